"""The bad-input corpus (tests/data/bad/, made by make_corpus.py): every row of cases.tsv runs one
command on a bad input and checks the project's rules for bad input:

- no signal and no hang (each case has a time limit);
- the expected exit code: 2 for bad input (config, schema, CSV, shards, checkpoints, command-line
  values), 1 for write failures, 0 for the ok_* cases that check the base inputs are valid;
- a failing command prints exactly one line on stderr, with every message fragment of the row (the
  file, the field); an exit-2 line says what was expected; write failures say "cannot write PATH";
- stderr is valid UTF-8 without control characters, and holds no run of 40 digits where a row
  asks (`!re:...`); with the option `distinct`, the expected and found values it prints differ
  once invisible characters are removed and Unicode is normalised;
- a failed command leaves nothing under final output names (no new file but a run folder's .lock,
  no changed file), and no command leaves a NAME.tmp-PID file;
- a command that succeeds writes no NaN or infinity (text outputs, HDF5 datasets other than the
  shards' /features and /hazard, where NaN means missing) and no torn file.

Columns of cases.tsv: case (the file's stem, or stem@variant), exit, fragments (' && ' between
fragments, ' || ' between alternatives, '!' negates, 're:' a regular expression), options
(timeout=S, ulimit_f=BYTES with SIGXFSZ at its default, sigxfsz=ignore, unprivileged: run as
nobody when root, distinct), setup (';'-separated mkdir, touch, cp, chmod, symlink) and command.
Placeholders: {BIN}, {BAD} (the corpus), {BASE} (its base/), {FILE} (the case's file), {WORK} (a
fresh folder per case, the command's current directory, holding a link `base` to base/).

    RESILINET_BIN=build/resilinet /usr/bin/python3 tests/bad_inputs_test.py [CASE_GLOB ...]

prints one line per failing case and exits 1 if any fails."""
import fnmatch
import json
import os
import re
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unicodedata

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("RESILINET_SOURCE_DIR", os.path.dirname(HERE))
BIN = os.path.abspath(os.environ.get("RESILINET_BIN", os.path.join(SOURCE_DIR, "build", "resilinet")))
BAD = os.path.join(SOURCE_DIR, "tests", "data", "bad")
BASE = os.path.join(BAD, "base")
DEFAULT_TIMEOUT = 20
FILE_SIZE_CAP = 256 << 20  # no case may write more (an accepted absurd size must not fill the disk)
MEMORY_CAP = int(os.environ.get("RESILINET_BAD_INPUTS_MEMORY", str(8 << 30)))  # 0: no cap (sanitizers)
NOBODY = 65534
NON_FINITE = re.compile(r"(?i)(?<![A-Za-z0-9_])[-+]?(nan|inf|infinity)(?![A-Za-z0-9_])")


class Case:
    def __init__(self, fields):
        self.name, exit_code, fragments, options, setup, self.command = fields
        self.exit = int(exit_code)
        self.fragments = [f for f in fragments.split(" && ") if f]
        self.options = dict((o.split("=", 1) + [""])[:2] for o in options.split())
        self.setup = [s.strip() for s in setup.split(";") if s.strip()]


def load_cases():
    cases = []
    with open(os.path.join(BAD, "cases.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith("case\t"):
                continue
            fields = line.split("\t")
            if len(fields) != 6:
                raise SystemExit("cases.tsv: a row without 6 columns: " + line)
            cases.append(Case(fields))
    return cases


def case_file(name):
    stem = name.split("@")[0]
    hits = [n for n in os.listdir(BAD) if os.path.splitext(n)[0] == stem]
    return os.path.join(BAD, hits[0]) if len(hits) == 1 else None


def substitute(text, values):
    for key, value in values.items():
        if "{" + key + "}" in text:
            if value is None:
                raise ValueError("no %s for this case" % key)
            text = text.replace("{" + key + "}", value)
    return text


def run_setup(ops, values):
    for op in ops:
        words = [substitute(w, values) for w in shlex.split(op)]
        verb, args = words[0], words[1:]
        if verb == "mkdir":
            os.makedirs(args[0], exist_ok=True)
        elif verb == "touch":
            open(args[0], "a").close()
        elif verb == "cp":
            shutil.copyfile(args[0], args[1])
        elif verb == "chmod":
            os.chmod(args[1], int(args[0], 8))
        elif verb == "symlink":
            os.symlink(args[0], args[1])
        else:
            raise ValueError("unknown setup step: " + op)


def snapshot(work):
    """{relative path: (size, mtime_ns)} of every file under work, not following the base link."""
    files = {}
    for root, dirs, names in os.walk(work):
        if root == work and "base" in dirs:
            dirs.remove("base")
        for n in names:
            p = os.path.join(root, n)
            if os.path.islink(p) and root == work and n == "base":
                continue
            st = os.lstat(p)
            files[os.path.relpath(p, work)] = (st.st_size, st.st_mtime_ns)
    return files


def non_finite_in_h5(path):
    """Descriptions of the non-finite values in an HDF5 output (NaN = missing in shard features/hazard)."""
    found = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for k in obj.attrs:
                v = obj.attrs[k]
                if isinstance(v, (str, bytes)):
                    text = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                    if NON_FINITE.search(text):
                        found.append("attribute %s/%s holds '%s'" % (name, k, NON_FINITE.search(text).group(0)))
                elif isinstance(v, (np.ndarray, np.floating)) and np.issubdtype(np.asarray(v).dtype, np.floating):
                    if not np.isfinite(v).all():
                        found.append("attribute %s/%s is not finite" % (name, k))
            if not isinstance(obj, h5py.Dataset) or not np.issubdtype(obj.dtype, np.floating):
                return
            a = obj[...]
            leaf = name.split("/")[-1]
            if leaf in ("features", "hazard"):
                bad = np.isinf(a)
            elif name.endswith("scaler/clip"):
                bad = np.isnan(a) | (a < 0)
            else:
                bad = ~np.isfinite(a)
            if bad.any():
                found.append("/%s has %d non-finite values" % (name, int(bad.sum())))
        visit("", f)
        f.visititems(visit)
    return found


def check_output_file(path):
    """Problems of one file written by a successful command: torn, or NaN/infinity in it."""
    name = os.path.basename(path)
    try:
        if name.endswith(".h5"):
            return ["%s: %s" % (name, p) for p in non_finite_in_h5(path)]
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return ["%s cannot be read (%s)" % (name, e)]
    problems = []
    if name.endswith(".json"):
        try:
            json.loads(text)
        except ValueError:
            problems.append(name + " is not valid JSON (torn?)")
    if name.endswith(".jsonl"):
        for i, line in enumerate(text.splitlines()):
            try:
                json.loads(line)
            except ValueError:
                problems.append("%s line %d is not valid JSON (torn?)" % (name, i + 1))
                break
    if name.endswith((".csv", ".jsonl")) and text and not text.endswith("\n"):
        problems.append(name + " does not end with a line end (torn?)")
    m = NON_FINITE.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        problems.append("%s line %d holds '%s'" % (name, line, m.group(0)))
    return problems


def visible(text):
    """A value as a reader sees it: NFC, without format/control characters, outer spaces kept as shown."""
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Cn"))


def reads_alike(lines):
    """Whether an 'expected E, found F' line shows F as E shows its value (same text once invisible
    characters are dropped and Unicode is normalised): E itself, E before ' as in ', or the last
    parenthesised or quoted value in E."""
    m = re.search(r"expected (.*), found (.*)$", lines[-1] if lines else "")
    if not m:
        return False
    expected, found = visible(m.group(1)).strip(), visible(m.group(2)).strip()
    candidates = {expected, expected.split(" as in ")[0].strip()}
    for pattern in (r"\(([^()]*)\)\s*$", r"'([^']*)'[^']*$"):
        hit = re.search(pattern, expected)
        if hit:
            candidates.add(hit.group(1).strip())
    return found in candidates


def fragment_ok(fragment, text):
    negate = fragment.startswith("!")
    if negate:
        fragment = fragment[1:]
    if fragment.startswith("re:"):
        hit = re.search(fragment[3:], text) is not None
    else:
        hit = any(alt in text for alt in fragment.split(" || "))
    return hit != negate


def preexec(c):
    def fn():
        os.setsid()
        limit = int(c.options.get("ulimit_f", FILE_SIZE_CAP))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if MEMORY_CAP > 0:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
        if c.options.get("sigxfsz") == "ignore":
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if "unprivileged" in c.options and os.geteuid() == 0:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    return fn


def run_case(c, root):
    """(problems, summary of what happened)."""
    work = os.path.join(root, re.sub(r"[^A-Za-z0-9_.-]", "_", c.name))
    os.makedirs(work)
    os.chmod(work, 0o755)
    values = {"BIN": BIN, "BAD": BAD, "BASE": BASE, "WORK": work, "FILE": case_file(c.name)}
    if "unprivileged" in c.options and os.geteuid() == 0:
        # nobody may not reach the build or the checkout (a clone in a private folder): use the
        # world-readable copies main() made
        values["BIN"], values["BASE"] = os.path.join(root, "nobody", "resilinet"), os.path.join(root, "nobody", "base")
    os.symlink(values["BASE"], os.path.join(work, "base"))
    run_setup(c.setup, values)
    command = [substitute(w, values) for w in shlex.split(c.command)]
    fragments = [substitute(f, values) for f in c.fragments]
    before = snapshot(work)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["OMP_WAIT_POLICY"] = "passive"
    timeout = float(c.options.get("timeout", DEFAULT_TIMEOUT))
    start = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=preexec(c))
    except (OSError, subprocess.SubprocessError) as e:
        return ["could not start the command (%s)" % e], "not run"
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        timed_out = True
    seconds = time.monotonic() - start
    rc = proc.returncode
    problems = []
    err_text = stderr.decode("utf-8", "replace")
    err_lines = [line for line in err_text.splitlines() if line.strip()]
    if timed_out:
        problems.append("no exit within %g s (hang)" % timeout)
    elif rc < 0:
        problems.append("killed by %s" % signal.Signals(-rc).name)
    elif rc != c.exit:
        problems.append("exit %d, expected %d" % (rc, c.exit))
    if not timed_out and rc != 0:
        if len(err_lines) != 1:
            problems.append("%d lines on stderr, expected one" % len(err_lines))
        if rc == 2 and not re.search(r"(?i)\bexpected\b", err_text):
            problems.append("the message does not say what was expected")
    if not timed_out and rc == c.exit and c.exit != 0:
        # a field must be named in the message, not just be part of a path (the case file's name,
        # the case's folder) that the message names too
        paths = [work, BAD, os.path.basename(values["FILE"] or "\0")]

        def without_paths(fragment):
            text = err_text
            for p in paths:
                if p not in fragment:
                    text = text.replace(p, "<PATH>")
            return text
        missing = [f for f in fragments if not fragment_ok(f, without_paths(f))]
        if missing:
            problems.append("stderr lacks " + ", ".join(repr(f) for f in missing))
    try:
        stderr.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("stderr is not valid UTF-8")
    controls = sorted({"U+%04X" % ord(ch) for ch in err_text
                       if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf")})
    if controls:
        problems.append("stderr holds control or invisible characters " + " ".join(controls))
    if "distinct" in c.options and rc not in (0, None) and not timed_out and reads_alike(err_lines):
        problems.append("the found value reads like the expected one")
    after = snapshot(work)
    temps = sorted(p for p in after if re.search(r"\.tmp-\d+$", p))
    if temps:
        problems.append("temporary files left: " + ", ".join(temps))
    new = sorted(p for p in after if p not in before and os.path.basename(p) != ".lock" and p not in temps)
    changed = sorted(p for p in after if p in before and after[p] != before[p])
    gone = sorted(p for p in before if p not in after)
    if rc != 0 or timed_out:
        if new:
            problems.append("failed but left " + ", ".join(new))
        if changed or gone:
            problems.append("failed but changed " + ", ".join(changed + gone))
    else:
        for p in new + changed:
            problems.extend(check_output_file(os.path.join(work, p)))
    what = ("timeout" if timed_out else "signal %s" % signal.Signals(-rc).name if rc < 0 else "exit %d" % rc)
    first = err_lines[0] if err_lines else ""
    shown = first if len(first) <= 400 else first[:400] + "..."
    summary = "%s (%.1f s)%s" % (what, seconds, ("; stderr: " + shown) if shown else "")
    if len(err_lines) > 1:
        summary += " [+%d more lines: %s]" % (len(err_lines) - 1, " | ".join(err_lines[1:3])[:300])
    return problems, summary


def main(patterns):
    if not os.path.exists(BIN):
        print("bad_inputs_test: no binary at %s (set RESILINET_BIN)" % BIN, file=sys.stderr)
        return 1
    cases = load_cases()
    if patterns:
        cases = [c for c in cases if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
    failed = 0
    start = time.monotonic()
    root = tempfile.mkdtemp(prefix="resilinet-bad-")
    try:
        os.chmod(root, 0o755)  # `unprivileged` cases run as nobody
        if os.geteuid() == 0 and any("unprivileged" in c.options for c in cases):
            shared = os.path.join(root, "nobody")
            os.makedirs(shared)
            shutil.copy2(BIN, os.path.join(shared, "resilinet"))
            shutil.copytree(BASE, os.path.join(shared, "base"))
            for dirpath, dirnames, filenames in os.walk(shared):
                os.chmod(dirpath, 0o755)
                for f in filenames:
                    os.chmod(os.path.join(dirpath, f), 0o755)
        for c in cases:
            problems, summary = run_case(c, root)
            if problems:
                failed += 1
                print("FAIL %s: %s; got %s" % (c.name, "; ".join(problems), summary), flush=True)
            elif os.environ.get("RESILINET_BAD_INPUTS_VERBOSE"):
                print("ok   %s: %s" % (c.name, summary), flush=True)
    finally:
        for dirpath, dirnames, _ in os.walk(root):  # chmod 555 folders of the cases
            for d in dirnames:
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        shutil.rmtree(root, ignore_errors=True)
    print("bad_inputs_test: %d of %d cases failed (%.0f s)" % (failed, len(cases), time.monotonic() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
