#!/usr/bin/python3
"""Writes the bad-input corpus: one small file per case in this folder, and cases.tsv, the table that
tests/bad_inputs_test.py runs (case, expected exit code, message fragments, options, setup, command).

    /usr/bin/python3 tests/data/bad/make_corpus.py                     # cases from the files in base/
    /usr/bin/python3 tests/data/bad/make_corpus.py --bin build/resilinet --rebuild-base

--rebuild-base first rewrites base/: a small synthetic shard (`resilinet synth`), tiny training configs
and checkpoints trained with them (finished, and stopped inside pretraining, IDEC and the classifier
head), and a small CSV with its ingest schema. Every other file is made by mutating those with h5py
and numpy, or written here as text. HDF5 files are rewritten compactly (contiguous datasets, the
same attribute types) so that each stays a few KB; the base files are checked to be valid by the
ok_* cases of the table. Needs Debian's python3 with h5py and numpy.

Run the table with `ctest -R bad_inputs` or `RESILINET_BIN=build/resilinet /usr/bin/python3 tests/bad_inputs_test.py`.
"""
import argparse
import ctypes
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "base")
STR = h5py.string_dtype()

# ---------------------------------------------------------------------------------------------
# The table

ROWS = []


def case(name, exit_code, fragments, command, setup="", options=""):
    """One row of cases.tsv. name: the case file's stem, or stem@variant for another command on the
    same file. fragments: each must appear in stderr (' || ' separates alternatives, a leading '!'
    negates, 're:' makes it a regular expression)."""
    fragments = " && ".join(fragments) if isinstance(fragments, list) else fragments
    assert "\t" not in command + fragments + setup + options and "\n" not in command + fragments
    assert all(r[0] != name for r in ROWS), name
    ROWS.append((name, str(exit_code), fragments, options, setup, command))


def out(name):
    return os.path.join(HERE, name)


def write_text(name, text, mode="w"):
    with open(out(name), mode) as f:
        f.write(text)


# Commands. {FILE} is the case's file, {BASE} base/, {WORK} the case's temporary working folder (the
# current directory of the command; it holds a link `base` to base/, so configs name base/shard.h5).
INSPECT = "{BIN} inspect {FILE}"
RATE = "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data {FILE} --out {WORK}/out"
EXPLAIN = "{BIN} explain --quiet --checkpoint {BASE}/checkpoint.h5 --data {FILE} --out {WORK}/out"
REPORT = "{BIN} report --quiet --checkpoint {BASE}/checkpoint.h5 --data {FILE} --out {WORK}/out"
TRAIN_DATA = "{BIN} train --quiet --config {BASE}/tiny.yaml --data {FILE}"
TRAIN_CONFIG = "{BIN} train --quiet --config {FILE}"
RATE_CK = "{BIN} rate --quiet --checkpoint {FILE} --data {BASE}/shard.h5 --out {WORK}/out"
EXPLAIN_CK = "{BIN} explain --quiet --checkpoint {FILE} --data {BASE}/shard.h5 --out {WORK}/out"
REPORT_CK = "{BIN} report --quiet --checkpoint {FILE} --data {BASE}/shard.h5 --out {WORK}/out"
EXPLAIN_CONFIG = ("{BIN} explain --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/shard.h5"
                  " --out {WORK}/out --config {FILE}")
RESUME_SETUP = "mkdir {WORK}/out; cp {FILE} {WORK}/out/checkpoint.h5"
RESUME = "{BIN} train --quiet --config {BASE}/tiny.yaml --resume"
RESUME_LATENT = "{BIN} train --quiet --config {BASE}/tiny_latent.yaml --resume"
INGEST = "{BIN} ingest --quiet --csv {FILE} --schema {BASE}/schema.yaml --out {WORK}/out"
INGEST_SCHEMA = "{BIN} ingest --quiet --csv {BASE}/ok.csv --schema {FILE} --out {WORK}/out"
SCENARIO = ("{BIN} scenario --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/shard.h5 --scenario {FILE}"
            " --out {WORK}/out")

# ---------------------------------------------------------------------------------------------
# Base inputs


def tiny_config(latent=False):
    """The tiny training config as nested dicts of raw YAML scalars (mutated by the config cases)."""
    c = {
        "data": "base/shard.h5",
        "run": {"dir": "out", "seed": "1", "threads": "1", "checkpoint_every": "1", "metrics_sample_rows": "1000"},
        "loader": {"slab_rows": "64"},
        "encoder": {"group_width": "2", "hidden": "[4]", "latent": "2"},
        "pretrain": {"epochs": "2", "min_steps": "0", "batch": "32",
                     "optimizer": {"lr": "0.001"}},
        "clusters": {"k": "3", "restarts": "2",
                     "kmeans": {"restarts": "2", "max_iterations": "20", "sample_rows": "1000"}},
        "idec": {"max_epochs": "2", "batch": "32", "optimizer": {"lr": "0.0001"}},
        "classifier": {"hidden": "[4, 4]", "epochs": "2", "min_steps": "0", "batch": "32",
                       "optimizer": {"lr": "0.001"}},
    }
    if latent:  # IDEC runs whole epochs (tol 0), so that it can stop after epoch 1 with its state
        c["clusters"]["space"] = "latent"
        c["idec"]["max_epochs"] = "3"
        c["idec"]["tol"] = "0"
    return c


def dump_yaml(node, indent=0):
    lines = []
    for key, value in node.items():
        if isinstance(value, dict):
            lines.append(" " * indent + key + ":")
            lines.extend(dump_yaml(value, indent + 2))
        else:
            lines.append(" " * indent + key + ": " + value)
    return lines


def config_text(mutate=None, latent=False, comment=""):
    c = tiny_config(latent)
    if mutate:
        mutate(c)
    head = "# " + comment + "\n" if comment else ""
    return head + "\n".join(dump_yaml(c)) + "\n"


def setting(path, value):
    """A mutation that sets the dotted key `path` to the raw YAML scalar `value`."""
    def mutate(c):
        node = c
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return mutate


SCHEMA_YAML = """\
# Ingest schema of ok.csv: three features in two systems.
name: bad-input-base
features:
  - {name: poverty, column: POV, system: society, component: robustness, direction: -1, unit: percent}
  - {name: hospitals, column: HOSP, system: facility, component: redundancy, direction: +1, unit: per 100k,
     transform: per_capita, per: POP, scale: 100000}
  - {name: roads, column: ROADS, system: infrastructure, component: redundancy, direction: +1, unit: log links,
     transform: log1p}
columns: {id: FIPS, lon: LON, lat: LAT, region: STATE, hazard: EAL, external_rating: RATING}
na_values: ["-999"]
"""


def ok_csv_rows():
    rows = []
    rng = np.random.default_rng(5)
    for i in range(40):
        state = "Texas" if i % 3 else "Ohio"
        pov = "%.1f" % rng.uniform(5, 40) if i % 7 else "-999"
        rows.append(["%05d" % (48001 + i), "%.4f" % (-97 + 0.01 * i), "%.4f" % (31 + 0.01 * i), state, pov,
                     str(int(rng.integers(0, 4))), str(int(rng.integers(500, 90000))),
                     str(int(rng.integers(1, 30))), "%.1f" % rng.uniform(0, 1e6), str(i % 6)])
    return rows


CSV_HEADER = ["FIPS", "LON", "LAT", "STATE", "POV", "HOSP", "POP", "ROADS", "EAL", "RATING"]


def csv_text(rows, header=CSV_HEADER):
    return "".join(",".join(r) + "\n" for r in [header] + rows)


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("make_corpus: %s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))


def compact_copy(src, dst):
    """Rewrites an HDF5 file compactly (contiguous datasets), with the same attributes and types."""
    attrs, groups, data = load_h5(src)
    save_h5(dst, attrs, groups, data)


def rebuild_base(binary):
    """Writes base/ anew: built in a temporary folder, which replaces base/ only when complete."""
    binary = os.path.abspath(binary)
    with tempfile.TemporaryDirectory() as tmp:
        new = os.path.join(tmp, "base")
        os.makedirs(new)

        def write(name, text):
            with open(os.path.join(new, name), "w") as f:
                f.write(text)
        write("tiny.yaml", config_text(comment="Tiny training config of the bad-input corpus (60 cells, 3 levels, "
                                               "a second or less); cases run it from a folder holding `base`."))
        write("tiny_latent.yaml", config_text(latent=True, comment="tiny.yaml with clusters.space: latent (IDEC)."))
        write("schema.yaml", SCHEMA_YAML)
        write("ok.csv", csv_text(ok_csv_rows()))
        run([binary, "synth", "--out", "syn", "--cells", "60", "--regions", "2", "--seed", "3", "--quiet"], tmp)
        compact_copy(os.path.join(tmp, "syn", "part-00000.h5"), os.path.join(new, "shard.h5"))

        def train(config, name, *extra):
            shutil.rmtree(os.path.join(tmp, "out"), ignore_errors=True)
            run([binary, "train", "--quiet", "--config", "base/" + config] + list(extra), tmp)
            compact_copy(os.path.join(tmp, "out", "checkpoint.h5"), os.path.join(new, name))
        train("tiny.yaml", "checkpoint.h5")
        train("tiny.yaml", "progress_pretrain.h5", "--stop-after", "pretrain:1")
        train("tiny.yaml", "progress_classifier.h5", "--stop-after", "classifier:1")
        train("tiny_latent.yaml", "progress_idec.h5", "--stop-after", "idec:1")
        if os.path.isdir(BASE):
            shutil.rmtree(BASE)
        shutil.copytree(new, BASE)


# ---------------------------------------------------------------------------------------------
# HDF5 helpers


def load_h5(path):
    """(attrs, datasets) of a file: {name: (value, dtype)} for root attributes, {path: (array, attrs)}."""
    with h5py.File(path, "r") as f:
        attrs = {k: (f.attrs[k], f.attrs.get_id(k).dtype) for k in f.attrs}
        data = {}
        groups = {}

        def visit(name, obj):
            a = {k: (obj.attrs[k], obj.attrs.get_id(k).dtype) for k in obj.attrs}
            if isinstance(obj, h5py.Group):
                groups[name] = a
            else:
                data[name] = (obj[...], a)
        f.visititems(visit)
    return attrs, groups, data


def _hdf5_library():
    """The libhdf5 h5py uses, for H5Pset_dset_no_attrs_hint (minimal dataset headers); None if unknown."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libhdf5" in line and "_hl" not in line and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "H5Pset_dset_no_attrs_hint"):
                return lib
    except OSError:
        pass
    return None


HDF5 = None


def new_h5(path, earliest=False):
    """An empty HDF5 file written compactly: 1.8 format objects (earliest: version 1 object headers,
    without checksums), no aggregation slack."""
    global HDF5
    if HDF5 is None:
        HDF5 = _hdf5_library() or False
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_file_space_strategy(h5py.h5f.FSPACE_STRATEGY_NONE, False, 1)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST if earliest else h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def group(f, path):
    """The group at path, created (with its parents) without modification times: same bytes each run."""
    node = f
    for part in path.split("/"):
        if part not in node:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(node.id, part.encode(), gcpl=gcpl)
        node = node[part]
    return node


def new_dataset(f, name, arr=None, shape=None, dtype=None, chunks=None, attrs=False):
    """A dataset without modification times; small ones compact (the data in the header)."""
    parent = group(f, os.path.dirname(name)) if os.path.dirname(name) else f
    shape = arr.shape if arr is not None else shape
    dtype = arr.dtype if arr is not None else np.dtype(dtype)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    if chunks:
        dcpl.set_chunk(chunks)
    elif arr is not None and 0 < arr.nbytes <= 32768:
        dcpl.set_layout(h5py.h5d.COMPACT)
    if HDF5 and not attrs:
        HDF5.H5Pset_dset_no_attrs_hint(ctypes.c_int64(dcpl.id), 1)
    maxshape = (h5py.h5s.UNLIMITED,) + tuple(shape[1:]) if chunks else None
    space = h5py.h5s.create_simple(tuple(shape), maxshape)
    ds = h5py.h5d.create(parent.id, os.path.basename(name).encode(), h5py.h5t.py_create(dtype), space, dcpl=dcpl)
    if arr is not None and arr.size:
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(arr))
    return h5py.Dataset(ds)


def fixed_string(value, dtype):
    """A string attribute value as fixed-length (NUL-padded) bytes: no global heap, 4 KB less a file."""
    if h5py.check_string_dtype(dtype) is None:
        return value, dtype
    cset = "ascii" if h5py.check_string_dtype(dtype).encoding == "ascii" else "utf-8"
    enc = (lambda x: x.encode() if isinstance(x, str) else bytes(x))
    if isinstance(value, np.ndarray):
        items = [enc(x) for x in value.tolist()]
        n = max([len(x) for x in items] + [1])
        dt = h5py.string_dtype(cset, n)
        return np.array(items, dtype="S%d" % n), dt
    b = enc(value)
    return np.array(b, dtype="S%d" % max(1, len(b))), h5py.string_dtype(cset, max(1, len(b)))


def save_h5(path, attrs, groups, data, shapes=None, fixed_strings=False, earliest=False):
    """Writes attrs/groups/data; shapes: {name: (shape, dtype, chunks)} datasets created without data."""
    convert = fixed_string if fixed_strings else (lambda v, dt: (v, dt))

    def put(obj, key, v, dt):
        v, dt = convert(v, dt)
        obj.attrs.create(key, v, dtype=dt)
    with new_h5(path, earliest) as f:
        for k, (v, dt) in attrs.items():
            put(f, k, v, dt)
        for g, a in sorted(groups.items()):
            grp = group(f, g)
            for k, (v, dt) in a.items():
                put(grp, k, v, dt)
        for name, (arr, a) in data.items():
            ds = new_dataset(f, name, np.asarray(arr), attrs=bool(a))
            for k, (v, dt) in a.items():
                put(ds, k, v, dt)
        for name, (shape, dtype, chunks) in (shapes or {}).items():
            new_dataset(f, name, shape=shape, dtype=dtype, chunks=chunks)
    clear_header_times(path)


def clear_header_times(path):
    """Zeroes the times in version 2 object headers (the root group keeps them whatever the property
    lists say), so that the same case gives the same bytes each time it is written."""
    data = bytearray(open(path, "rb").read())
    at = data.find(b"OHDR")
    while at >= 0:
        flags = data[at + 5]
        if data[at + 4] == 2 and flags & 0x20:
            start = at + 6 + 16 + (4 if flags & 0x10 else 0)
            width = 1 << (flags & 3)
            end = start + width + int.from_bytes(data[start:start + width], "little")
            if end + 4 <= len(data) and lookup3(bytes(data[at:end])) == struct.unpack_from("<I", data, end)[0]:
                data[at + 6:at + 22] = bytes(16)
                struct.pack_into("<I", data, end, lookup3(bytes(data[at:end])))
        at = data.find(b"OHDR", at + 4)
    with open(path, "wb") as f:
        f.write(bytes(data))


def strings(values):
    return (np.array(values, dtype=STR), STR)


class Shard:
    """The base shard in memory, to be mutated and written as a case."""

    def __init__(self, rows=None):
        self.attrs, self.groups, self.data = load_h5(os.path.join(BASE, "shard.h5"))
        if rows is not None:  # an even subset of the rows keeps both regions
            n = self.rows()
            pick = np.linspace(0, n - 1, rows).astype(int)
            for k, (arr, a) in self.data.items():
                self.data[k] = (arr[pick], a)

    def rows(self):
        return self.data["features"][0].shape[0]

    def arr(self, name):
        return self.data[name][0]

    def set(self, name, arr):
        self.data[name] = (arr, self.data.get(name, (None, {}))[1])

    def save(self, name, shapes=None):
        save_h5(out(name), self.attrs, self.groups, self.data, shapes)
        return name


class Ckpt:
    """A base checkpoint in memory."""

    def __init__(self, base="checkpoint.h5"):
        self.attrs, self.groups, self.data = load_h5(os.path.join(BASE, base))

    def arr(self, name):
        return self.data[name][0]

    def set(self, name, arr):
        self.data[name] = (np.asarray(arr), self.data.get(name, (None, {}))[1])

    def attr(self, name, value, dtype=None):
        if dtype is None:
            dtype = self.attrs[name][1]
        self.attrs[name] = (value, dtype)

    def save(self, name, fixed_strings=True, earliest=False):
        save_h5(out(name), self.attrs, self.groups, self.data, fixed_strings=fixed_strings, earliest=earliest)
        return name


def global_heap_objects(data):
    """[(header offset, index, size, body)] of every object in every global heap collection."""
    objs = []
    pos = data.find(b"GCOL")
    while pos >= 0:
        size = struct.unpack_from("<Q", data, pos + 8)[0]
        p = pos + 16
        while p + 16 <= pos + size:
            idx, _, _, osz = struct.unpack_from("<HHIQ", data, p)
            if idx == 0:
                break
            objs.append((p, idx, osz, bytes(data[p + 16:p + 16 + osz])))
            p += 16 + ((osz + 7) // 8) * 8
        pos = data.find(b"GCOL", pos + 4)
    return objs


def corrupt_heap_length(src, dst, text, new_size):
    """Sets the stored length of the global-heap object holding `text` (a variable-length string)."""
    data = bytearray(open(src, "rb").read())
    hits = [o for o in global_heap_objects(data) if o[3] == text.encode()]
    assert hits, text
    struct.pack_into("<Q", data, hits[0][0] + 8, new_size)
    open(dst, "wb").write(bytes(data))


def _rot(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data, initval=0):
    """Bob Jenkins' lookup3 hashlittle: the checksum of HDF5 metadata blocks."""
    M = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & M
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M
        a = (a - c) & M; a ^= _rot(c, 4); c = (c + b) & M  # noqa: E702
        b = (b - a) & M; b ^= _rot(a, 6); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 8); b = (b + a) & M  # noqa: E702
        a = (a - c) & M; a ^= _rot(c, 16); c = (c + b) & M  # noqa: E702
        b = (b - a) & M; b ^= _rot(a, 19); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 4); b = (b + a) & M  # noqa: E702
        length -= 12
        k += 12
    if length == 0:
        return c
    t = bytes(data[k:k + length]) + bytes(12 - length)
    a = (a + int.from_bytes(t[0:4], "little")) & M
    b = (b + int.from_bytes(t[4:8], "little")) & M
    c = (c + int.from_bytes(t[8:12], "little")) & M
    c ^= b; c = (c - _rot(b, 14)) & M  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & M  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & M  # noqa: E702
    return c


def checksummed_block(data, pos):
    """(start, end) of the checksummed object header chunk holding byte pos (its checksum at end),
    or None (a version 1 object header has no checksum)."""
    for sig in (b"OHDR", b"OCHK"):
        s = data.rfind(sig, 0, pos + 1)
        while s >= 0:
            if sig == b"OHDR":
                flags = data[s + 5]
                at = s + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
                width = 1 << (flags & 3)
                end = at + width + int.from_bytes(data[at:at + width], "little")
                if pos < end and lookup3(bytes(data[s:end])) == struct.unpack_from("<I", data, end)[0]:
                    return s, end
            else:
                for end in range(pos + 1, min(len(data) - 3, s + 8192)):
                    if lookup3(bytes(data[s:end])) == struct.unpack_from("<I", data, end)[0]:
                        return s, end
            s = data.rfind(sig, 0, s)
    return None


def patch_metadata(data, pos, new):
    """Writes bytes into an object header and fixes the header chunk's checksum."""
    block = checksummed_block(data, pos)
    data[pos:pos + len(new)] = new
    if block:
        s, e = block
        struct.pack_into("<I", data, e, lookup3(bytes(data[s:e])))


def vlen_descriptor(data, text):
    """Offset of the (length, heap address, index) element that points at the heap object `text`."""
    gpos = data.find(b"GCOL")
    for off, idx, size, body in global_heap_objects(data):
        if body == text.encode():
            pos = data.find(struct.pack("<IQI", size, gpos, idx))
            if pos >= 0:
                return pos
    raise ValueError(text)


# ---------------------------------------------------------------------------------------------
# Cases

def config_cases():
    def cfg(name, key, value, fragment=None, latent=False, file_named=True):
        write_text(name + ".yaml", config_text(setting(key, value), latent=latent))
        case(name, 2, ([name + ".yaml"] if file_named else []) + [fragment or key], TRAIN_CONFIG)

    # 3. NaN/Inf/out-of-range optimizer and IDEC constants
    cfg("cfg_pretrain_lr_nan", "pretrain.optimizer.lr", ".nan")
    cfg("cfg_pretrain_lr_inf", "pretrain.optimizer.lr", ".inf")
    cfg("cfg_pretrain_lr_1e999", "pretrain.optimizer.lr", "1e999")
    cfg("cfg_classifier_lr_zero", "classifier.optimizer.lr", "0")
    cfg("cfg_classifier_lr_too_big", "classifier.optimizer.lr", "1000")
    cfg("cfg_idec_lr_negative", "idec.optimizer.lr", "-0.001", latent=True)
    cfg("cfg_idec_lr_inf", "idec.optimizer.lr", ".inf", latent=True)
    cfg("cfg_beta1_nan", "pretrain.optimizer.beta1", ".nan")
    cfg("cfg_beta1_one", "pretrain.optimizer.beta1", "1")
    cfg("cfg_beta2_one", "pretrain.optimizer.beta2", "1")
    cfg("cfg_beta2_negative", "classifier.optimizer.beta2", "-0.5")
    cfg("cfg_beta2_nan", "idec.optimizer.beta2", ".nan", latent=True)
    cfg("cfg_eps_zero", "pretrain.optimizer.eps", "0")
    cfg("cfg_eps_nan", "classifier.optimizer.eps", ".nan")
    cfg("cfg_eps_negative", "idec.optimizer.eps", "-1e-8", latent=True)
    cfg("cfg_weight_decay_nan", "pretrain.optimizer.weight_decay", ".nan")
    cfg("cfg_weight_decay_inf", "classifier.optimizer.weight_decay", ".inf")
    cfg("cfg_weight_decay_negative", "pretrain.optimizer.weight_decay", "-0.1")
    cfg("cfg_alpha_zero", "clusters.alpha", "0")
    cfg("cfg_alpha_nan", "clusters.alpha", ".nan")
    cfg("cfg_alpha_inf", "clusters.alpha", ".inf", latent=True)
    cfg("cfg_gamma_nan", "idec.gamma", ".nan", latent=True)
    cfg("cfg_gamma_inf", "idec.gamma", ".inf", latent=True)
    cfg("cfg_gamma_negative", "idec.gamma", "-1", latent=True)
    cfg("cfg_spread_nan", "clusters.spread", ".nan")
    cfg("cfg_spread_inf", "clusters.spread", ".inf", latent=True)
    cfg("cfg_spread_negative", "clusters.spread", "-3")
    cfg("cfg_input_noise_nan", "pretrain.input_noise", ".nan")
    cfg("cfg_input_noise_inf", "pretrain.input_noise", ".inf")
    cfg("cfg_input_noise_negative", "pretrain.input_noise", "-1")
    cfg("cfg_mask_rate_nan", "pretrain.mask_rate", ".nan")
    cfg("cfg_mask_rate_one", "pretrain.mask_rate", "1")
    cfg("cfg_scaler_clip_nan", "scaler.clip", ".nan")
    cfg("cfg_scaler_clip_inf", "scaler.clip", ".inf")
    cfg("cfg_scaler_quantile_nan", "scaler.lower_quantile", ".nan")
    cfg("cfg_holdout_nan", "classifier.holdout", ".nan")
    cfg("cfg_restart_share_nan", "clusters.restart_share", ".nan")
    cfg("cfg_min_share_nan", "clusters.min_share", ".nan")
    cfg("cfg_refresh_every_nan", "idec.refresh_every", ".nan", latent=True)
    cfg("cfg_tol_nan", "idec.tol", ".nan", latent=True)
    cfg("cfg_max_change_nan", "idec.max_change", ".nan", latent=True)
    # 1. crashes: K beyond what labels hold, absurd thread counts
    cfg("cfg_k_129", "clusters.k", "129", latent=True)
    cfg("cfg_k_1000000", "clusters.k", "1000000")
    cfg("cfg_k_one", "clusters.k", "1")
    cfg("cfg_k_too_many_for_data", "clusters.k", "10", file_named=False)  # 60 cells: under 10 per cluster
    cfg("cfg_threads_100000", "run.threads", "100000")
    cfg("cfg_threads_negative", "run.threads", "-1")
    # 4. absurd sizes
    cfg("cfg_hidden_huge", "encoder.hidden", "[100000000]")
    cfg("cfg_hidden_zero", "encoder.hidden", "[0]")
    cfg("cfg_decoder_negative", "encoder.decoder", "[-4]")
    cfg("cfg_classifier_hidden_huge", "classifier.hidden", "[4, 2000000000]")
    cfg("cfg_group_width_huge", "encoder.group_width", "2147483647")
    cfg("cfg_group_width_zero", "encoder.group_width", "0")
    cfg("cfg_latent_huge", "encoder.latent", "1000000000")
    cfg("cfg_batch_huge", "pretrain.batch", "2000000000")
    cfg("cfg_batch_zero", "classifier.batch", "0")
    cfg("cfg_idec_batch_negative", "idec.batch", "-32", latent=True)
    cfg("cfg_slab_rows_zero", "loader.slab_rows", "0")
    cfg("cfg_kmeans_restarts_huge", "clusters.kmeans.restarts", "1000000000")
    cfg("cfg_epochs_overflow", "pretrain.epochs", "99999999999999999999")
    cfg("cfg_epochs_negative", "classifier.epochs", "-2")
    cfg("cfg_checkpoint_every_negative", "run.checkpoint_every", "-1")
    cfg("cfg_seed_negative", "run.seed", "-1")
    cfg("cfg_seed_float", "run.seed", "1.5")
    # 6. misleading messages: a k-means sample smaller than K
    cfg("cfg_kmeans_sample_rows_3", "clusters.kmeans.sample_rows", "3")
    cfg("cfg_kmeans_sample_rows_zero", "clusters.kmeans.sample_rows", "0")
    # wrong types and choices
    cfg("cfg_wrong_type_epochs", "pretrain.epochs", "many")
    cfg("cfg_hidden_not_list", "encoder.hidden", "{a: 1}")
    cfg("cfg_device_bogus", "run.device", "tpu")
    cfg("cfg_space_bogus", "clusters.space", "hyperbolic")
    cfg("cfg_optimizer_sgd", "pretrain.optimizer.type", "sgd")
    cfg("cfg_scaler_type_bogus", "scaler.type", "log")
    cfg("cfg_unknown_key", "pretrain.optimiser", "{lr: 0.01}")
    cfg("cfg_unknown_section", "trainer", "{epochs: 3}")
    cfg("cfg_data_missing", "data", "base/no-such-folder/*.h5", fragment="no-such-folder", file_named=False)

    # 5. duplicate keys, 4. non-scalar keys, malformed YAML
    text = config_text()
    write_text("cfg_duplicate_key.yaml", text.replace("  batch: 32\n", "  batch: 32\n  batch: 64\n", 1))
    case("cfg_duplicate_key", 2, ["cfg_duplicate_key.yaml", "pretrain.batch"], TRAIN_CONFIG)
    write_text("cfg_duplicate_section.yaml", text + "pretrain:\n  epochs: 5\n")
    case("cfg_duplicate_section", 2, ["cfg_duplicate_section.yaml", "pretrain"], TRAIN_CONFIG)
    write_text("cfg_duplicate_key_flow.yaml",
               text.replace("  optimizer:\n    lr: 0.001\n", "  optimizer: {lr: 0.001, lr: .nan}\n", 1))
    case("cfg_duplicate_key_flow", 2, ["cfg_duplicate_key_flow.yaml", "pretrain.optimizer.lr"], TRAIN_CONFIG)
    write_text("cfg_non_scalar_key.yaml", text + "? [a, b]\n: 1\n")
    case("cfg_non_scalar_key", 2, ["cfg_non_scalar_key.yaml"], TRAIN_CONFIG)
    write_text("cfg_non_scalar_key_nested.yaml", text.replace("classifier:\n", "classifier:\n  ? {x: 1}\n  : 2\n"))
    case("cfg_non_scalar_key_nested", 2, ["cfg_non_scalar_key_nested.yaml", "classifier"], TRAIN_CONFIG)
    write_text("cfg_malformed_yaml.yaml", text.replace("encoder:\n", "encoder:\n  hidden: [4\n", 1))
    case("cfg_malformed_yaml", 2, ["cfg_malformed_yaml.yaml", "line"], TRAIN_CONFIG)
    write_text("cfg_tab_indent.yaml", text.replace("  seed: 1\n", "\tseed: 1\n", 1))
    case("cfg_tab_indent", 2, ["cfg_tab_indent.yaml", "line"], TRAIN_CONFIG)
    write_text("cfg_top_level_list.yaml", "- data\n- run\n")
    case("cfg_top_level_list", 2, ["cfg_top_level_list.yaml"], TRAIN_CONFIG)
    write_text("cfg_section_scalar.yaml", text.replace("loader:\n  slab_rows: 64\n", "loader: 64\n"))
    case("cfg_section_scalar", 2, ["cfg_section_scalar.yaml", "loader"], TRAIN_CONFIG)
    write_text("cfg_key_escape_sequence.yaml", text.replace("  seed: 1\n", "  \"se\\e[2J\\e[31med\": 1\n", 1))
    case("cfg_key_escape_sequence", 2, ["cfg_key_escape_sequence.yaml", "run (a key)", "control character"], TRAIN_CONFIG)
    write_text("cfg_nesting_deep.yaml", "data: " + "[" * 20000 + "]" * 20000 + "\n")
    case("cfg_nesting_deep", 2, ["cfg_nesting_deep.yaml"], TRAIN_CONFIG)
    write_text("cfg_binary_garbage.yaml", bytes(range(256)) * 4, mode="wb")
    case("cfg_binary_garbage", 2, ["cfg_binary_garbage.yaml"], TRAIN_CONFIG)
    # 5. a config path that is a folder; a missing config
    case("cfg_is_directory", 2, ["{WORK}/cfgdir", "folder || directory"], "{BIN} train --quiet --config {WORK}/cfgdir",
         setup="mkdir {WORK}/cfgdir")
    case("cfg_missing_file", 2, ["{WORK}/none.yaml"], "{BIN} train --quiet --config {WORK}/none.yaml")


def cli_cases():
    digits = "9" * 300
    nolong = "!re:[0-9]{40}"
    # 5. command-line overrides meet the config's checks
    case("cli_train_threads_negative", 2, ["--threads || run.threads"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --threads -1")
    case("cli_train_threads_100000", 2, ["--threads || run.threads"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --threads 100000")
    case("cli_train_seed_negative", 2, ["--seed || run.seed"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --seed -1")
    # 6. range errors must not print 300-digit numbers
    case("cli_train_threads_300_digits", 2, ["--threads", nolong],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --threads " + digits)
    case("cli_train_seed_300_digits", 2, ["--seed", nolong],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --seed " + digits)
    case("cli_train_threads_not_a_number", 2, ["--threads"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --threads abc")
    case("cli_train_stop_after_bogus", 2, ["--stop-after"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --stop-after sometime")
    case("cli_train_stop_after_negative_epoch", 2, ["--stop-after"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --stop-after pretrain:-1")
    case("cli_train_run_dir_is_file", 2, ["{WORK}/afile", "run.dir || --run-dir"],
         "{BIN} train --quiet --config {BASE}/tiny.yaml --run-dir {WORK}/afile", setup="touch {WORK}/afile")
    case("cli_train_unknown_option", 2, ["--bogus"], "{BIN} train --bogus")
    explain = "{BIN} explain --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/shard.h5 --out {WORK}/out"
    case("cli_explain_delta_nan", 2, ["--delta"], explain + " --delta nan")
    case("cli_explain_delta_inf", 2, ["--delta"], explain + " --delta inf")
    case("cli_explain_delta_1e300", 2, ["--delta"], explain + " --delta 1e300")
    case("cli_explain_delta_negative", 2, ["--delta", nolong], explain + " --delta -1")
    case("cli_explain_delta_zero", 2, ["--delta", nolong], explain + " --delta 0")
    case("cli_explain_level_beyond_k", 2, ["--level || lrp.seed"], explain + " --level 4")
    case("cli_explain_level_300_digits", 2, ["--level", nolong], explain + " --level " + digits)
    rate = "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/shard.h5 --out {WORK}/out"
    case("cli_rate_format_bogus", 2, ["--format"], rate + " --format xlsx")
    case("cli_rate_checkpoint_missing", 2, ["{WORK}/none.h5"],
         "{BIN} rate --quiet --checkpoint {WORK}/none.h5 --data {BASE}/shard.h5 --out {WORK}/out")
    case("cli_rate_checkpoint_is_directory", 2, ["{WORK}/ckdir", "folder || directory"],
         "{BIN} rate --quiet --checkpoint {WORK}/ckdir --data {BASE}/shard.h5 --out {WORK}/out",
         setup="mkdir {WORK}/ckdir")
    case("cli_rate_checkpoint_is_shard", 2, ["{BASE}/shard.h5", "format"],
         "{BIN} rate --quiet --checkpoint {BASE}/shard.h5 --data {BASE}/shard.h5 --out {WORK}/out")
    case("cli_rate_data_is_checkpoint", 2, ["{BASE}/checkpoint.h5", "format"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/checkpoint.h5 --out {WORK}/out")
    case("cli_rate_data_empty_dir", 2, ["{WORK}/empty"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data {WORK}/empty --out {WORK}/out",
         setup="mkdir {WORK}/empty")
    case("cli_rate_data_no_match", 2, ["{WORK}/nothing-*.h5"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data '{WORK}/nothing-*.h5' --out {WORK}/out")
    case("cli_rate_data_dir_named_h5", 2, ["x.h5"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data '{WORK}/d/*.h5' --out {WORK}/out",
         setup="mkdir {WORK}/d; mkdir {WORK}/d/x.h5")
    case("cli_rate_data_dangling_link", 2, ["{WORK}/d/a.h5"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data '{WORK}/d/*.h5' --out {WORK}/out",
         setup="mkdir {WORK}/d; symlink {WORK}/gone.h5 {WORK}/d/a.h5")
    # 4. an impossible output path is a bad value of --out (exit 2, naming it), checked before any work
    case("cli_rate_out_is_file", 2, ["{WORK}/afile", "--out"], rate.replace("{WORK}/out", "{WORK}/afile"),
         setup="touch {WORK}/afile")
    case("cli_explain_out_parent_is_file", 2, ["{WORK}/afile", "--out"],
         explain.replace("{WORK}/out", "{WORK}/afile/sub"), setup="touch {WORK}/afile")
    case("cli_report_out_is_file", 2, ["{WORK}/afile", "--out"],
         REPORT.replace("{FILE}", "{BASE}/shard.h5").replace("{WORK}/out", "{WORK}/afile"),
         setup="touch {WORK}/afile")
    case("cli_synth_out_is_file", 2, ["{WORK}/afile", "--out"],
         "{BIN} synth --quiet --cells 50 --regions 1 --out {WORK}/afile", setup="touch {WORK}/afile")
    case("cli_ingest_out_is_file", 2, ["{WORK}/afile", "--out"],
         INGEST.replace("{FILE}", "{BASE}/ok.csv").replace("{WORK}/out", "{WORK}/afile"),
         setup="touch {WORK}/afile")
    case("cli_inspect_median_rows_zero", 2, ["--median-rows"], "{BIN} inspect --median-rows 0 {BASE}/shard.h5")
    case("cli_ingest_deflate_10", 2, ["--deflate"],
         INGEST.replace("{FILE}", "{BASE}/ok.csv") + " --deflate 10")
    case("cli_ingest_shard_rows_zero", 2, ["--shard-rows"],
         INGEST.replace("{FILE}", "{BASE}/ok.csv") + " --shard-rows 0")
    case("cli_ingest_shard_rows_negative", 2, ["--shard-rows"],
         INGEST.replace("{FILE}", "{BASE}/ok.csv") + " --shard-rows -1")
    synth = "{BIN} synth --quiet --out {WORK}/out --cells 50 --regions 1"
    case("cli_synth_missing_rate_nan", 2, ["--missing-rate || missing_rate"], synth + " --missing-rate nan")
    case("cli_synth_missing_rate_one", 2, ["--missing-rate || missing_rate"], synth + " --missing-rate 1")
    case("cli_synth_noise_nan", 2, ["--noise || noise"], synth + " --noise nan")
    case("cli_synth_noise_inf", 2, ["--noise || noise"], synth + " --noise inf")
    case("cli_synth_noise_negative", 2, ["--noise || noise"], synth + " --noise -1")
    case("cli_synth_deflate_10", 2, ["--deflate || deflate"], synth + " --deflate 10")
    case("cli_synth_regions_zero", 2, ["--regions"], "{BIN} synth --quiet --out {WORK}/out --regions 0")
    case("cli_synth_cells_negative", 2, ["--cells"], "{BIN} synth --quiet --out {WORK}/out --cells -5")
    case("cli_synth_shard_rows_zero", 2, ["--shard-rows || shard_rows"], synth + " --shard-rows 0")
    case("cli_synth_generator_bogus", 2, ["--generator || generator"], synth + " --generator fractal")
    case("cli_report_map_points_300_digits", 2, ["--map-points", nolong],
         REPORT.replace("{FILE}", "{BASE}/shard.h5") + " --map-points " + digits)


def explain_config_cases():
    def exp(name, text, *fragments):
        write_text(name + ".yaml", text)
        case(name, 2, [name + ".yaml"] + list(fragments), EXPLAIN_CONFIG)
    # 5. zbox above the input layer, 4./3. sensitivity.delta .inf
    exp("exp_middle_rule_zbox", "lrp:\n  middle: {rule: zbox}\n", "lrp.middle.rule")
    exp("exp_top_rule_zbox", "lrp:\n  top: {rule: zbox}\n", "lrp.top.rule")
    exp("exp_delta_inf", "sensitivity: {enabled: true, delta: .inf}\n", "sensitivity.delta")
    exp("exp_delta_nan", "sensitivity: {delta: .nan}\n", "sensitivity.delta")
    exp("exp_delta_zero", "sensitivity: {delta: 0}\n", "sensitivity.delta")
    exp("exp_epsilon_nan", "lrp:\n  top: {rule: epsilon, epsilon: .nan}\n", "lrp.top", "epsilon")
    exp("exp_epsilon_negative", "lrp:\n  top: {rule: epsilon, epsilon: -1}\n", "lrp.top", "epsilon")
    exp("exp_stabilizer_inf", "lrp:\n  input: {rule: zbox, stabilizer: .inf}\n", "re:lrp\\.input\\b.*stabilizer")
    exp("exp_gamma_nan", "lrp:\n  middle: {rule: gamma, gamma: .nan}\n", "lrp.middle", "gamma")
    exp("exp_gamma_negative", "lrp:\n  middle: {rule: gamma, gamma: -0.25}\n", "lrp.middle", "gamma")
    exp("exp_alpha_beta_mismatch", "lrp:\n  middle: {rule: alpha_beta, alpha: 3, beta: 1}\n", "lrp.middle")
    exp("exp_alpha_nan", "lrp:\n  middle: {rule: alpha_beta, alpha: .nan, beta: .nan}\n", "lrp.middle")
    exp("exp_rule_bogus", "lrp:\n  input: {rule: magic}\n", "lrp.input.rule")
    exp("exp_seed_level_zero", "lrp: {seed: 0}\n", "lrp.seed")
    exp("exp_seed_level_beyond_k", "lrp: {seed: 9}\n", "lrp.seed")
    exp("exp_seed_garbage", "lrp: {seed: 2x}\n", "lrp.seed")
    exp("exp_unknown_key", "lrp:\n  middle: {rule: gamma, gama: 0.3}\n", "lrp.middle.gama")
    exp("exp_duplicate_key", "sensitivity:\n  delta: 0.1\n  delta: .inf\n", "sensitivity.delta")
    exp("exp_non_scalar_key", "lrp:\n  ? [input, middle]\n  : {rule: epsilon}\n", "lrp")
    exp("exp_enabled_not_bool", "sensitivity: {enabled: maybe}\n", "sensitivity.enabled")
    case("exp_config_is_directory", 2, ["{WORK}/cfgdir", "folder || directory"],
         EXPLAIN_CONFIG.replace("{FILE}", "{WORK}/cfgdir"), setup="mkdir {WORK}/cfgdir")


def scenario_cases():
    def scn(name, text, *fragments, options="", names_file=True):
        write_text(name + ".yaml", text)
        case(name, 2, ([name + ".yaml"] if names_file else []) + list(fragments), SCENARIO + options)
    one = "scenarios:\n  - name: s\n    edits:\n      - "
    write_text("ok_scenario_base.yaml", "scenarios:\n  - name: s\n    edits: [{set: {poverty: 1}}]\n")
    case("ok_scenario_base", 0, [], SCENARIO + " --target-level 3")
    scn("scn_malformed_yaml", "scenarios: [\n", "valid YAML")
    scn("scn_empty_file", "", "<top level>")
    scn("scn_no_scenarios", "scenarios: []\n", "scenarios: expected a non-empty list")
    scn("scn_unknown_top_key", "scenario: []\n", "unknown key 'scenario'")
    scn("scn_unknown_feature", one + "set: {povety: 1}\n", "scenarios[0] (s).edits[0].set", "feature of the data")
    scn("scn_unknown_selection", one + "select: {county: x}\n        set: {poverty: 1}\n",
        "scenarios[0] (s).edits[0].select.county", "one of the keys")
    scn("scn_unknown_region", one + "select: {region: metro-z}\n        set: {poverty: 1}\n",
        "select.region", "a region of the data")
    scn("scn_empty_selection", one + "select: {bbox: [0, 0, 1, 1]}\n        set: {poverty: 1}\n",
        "scenarios[0] (s).edits[0].select", "at least one cell")
    scn("scn_empty_ids", one + "select: {ids: [999999999]}\n        set: {poverty: 1}\n", "at least one cell")
    scn("scn_level_out_of_range", one + "select: {level: 9}\n        set: {poverty: 1}\n", "select.level", "from 1 to")
    scn("scn_level_fraction", one + "select: {level: 1.5}\n        set: {poverty: 1}\n", "select.level")
    scn("scn_two_actions", one + "set: {poverty: 1}\n        add: {poverty: 1}\n", "exactly one action")
    scn("scn_no_action", one + "select: {all: true}\n", "exactly one action")
    scn("scn_value_nan", one + "set: {poverty: .nan}\n", "set.poverty", "finite")
    scn("scn_value_inf", one + "scale: {poverty: .inf}\n", "scale.poverty", "finite")
    scn("scn_value_text", one + "add: {poverty: lots}\n", "add.poverty", "a number")
    scn("scn_bbox_inverted", one + "select: {bbox: [10, 10, 0, 0]}\n        set: {poverty: 1}\n", "select.bbox")
    scn("scn_bbox_short", one + "select: {bbox: [0, 0, 1]}\n        set: {poverty: 1}\n", "select.bbox")
    scn("scn_polygon_two_points", one + "select: {polygon: [[0, 0], [1, 1]]}\n        set: {poverty: 1}\n",
        "select.polygon", "at least 3 points")
    scn("scn_latitude_out_of_range", one + "facility: {feature: hospitals, lon: 0, lat: 91, radius_km: 5}\n",
        "facility.lat", "latitude")
    scn("scn_radius_zero", one + "facility: {feature: hospitals, lon: 0, lat: 0, radius_km: 0}\n",
        "facility.radius_km")
    scn("scn_facility_missing_radius", one + "facility: {feature: hospitals, lon: 0, lat: 0}\n",
        "facility.radius_km")
    scn("scn_threshold_no_bound", one + "select: {threshold: {feature: poverty}}\n        set: {poverty: 1}\n",
        "select.threshold", "above")
    scn("scn_name_with_slash", "scenarios:\n  - name: ../out\n    edits: [{set: {poverty: 1}}]\n",
        "scenarios[0].name", "output folder")
    scn("scn_name_twice", "scenarios:\n  - name: s\n    edits: [{set: {poverty: 1}}]\n"
        "  - name: s\n    edits: [{set: {poverty: 2}}]\n", "scenarios[1].name", "used once")
    scn("scn_name_control", "scenarios:\n  - name: \"a\\x01b\"\n    edits: [{set: {poverty: 1}}]\n",
        "scenarios[0].name")
    scn("scn_duplicate_key", one + "set: {poverty: 1, poverty: 2}\n", "poverty", "once")
    scn("scn_geojson_missing", one + "select: {geojson: nowhere.geojson}\n        set: {poverty: 1}\n",
        "select.geojson", "nowhere.geojson")
    write_text("scn_geojson_bad_area.geojson", '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}')
    scn("scn_geojson_bad", one + "select: {geojson: scn_geojson_bad_area.geojson}\n        set: {poverty: 1}\n",
        "select.geojson (scn_geojson_bad_area.geojson geometry.coordinates[0])", "ring")
    write_text("scn_geojson_not_json_area.geojson", '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1')
    scn("scn_geojson_not_json", one + "select: {geojson: scn_geojson_not_json_area.geojson}\n        set: {poverty: 1}\n",
        "select.geojson (scn_geojson_not_json_area.geojson)", "valid GeoJSON")
    scn("scn_target_level_zero", "scenarios:\n  - name: s\n    edits: [{set: {poverty: 1}}]\n", "--target-level",
        options=" --target-level 0", names_file=False)
    case("scn_scenario_is_directory", 2, ["{WORK}/scdir", "not a regular file"],
         SCENARIO.replace("{FILE}", "{WORK}/scdir"), setup="mkdir {WORK}/scdir")


def schema_cases():
    base = SCHEMA_YAML

    def sch(name, text, fragment, mode="w"):
        write_text(name + ".yaml", text, mode)
        case(name, 2, [name + ".yaml", fragment], INGEST_SCHEMA)
    sch("schema_unknown_key", base.replace("direction: -1, unit: percent", "direction: -1, unit: percent, componnt: x"),
        "features[0].componnt")
    # 5. duplicate keys
    sch("schema_duplicate_key", base.replace("{name: poverty,", "{name: poverty, name: wealth,"), "features[0].name")
    sch("schema_duplicate_top_key", base + "na_values: [\"-1\"]\n", "na_values")
    # 4. non-scalar key
    sch("schema_non_scalar_key", base.replace("{name: poverty,", "{[a, b]: 1, name: poverty,"), "features[0]")
    sch("schema_non_scalar_top_key", base + "? {a: 1}\n: 2\n", "<top level> || schema_non_scalar_top_key.yaml")
    sch("schema_key_escape_sequence", base.replace("{name: poverty,", "{\"\\e]0;owned\\a\": 1, name: poverty,"),
        "features[0]")
    sch("schema_direction_nan", base.replace("direction: -1, unit: percent", "direction: .nan, unit: percent"),
        "features[0].direction")
    sch("schema_direction_zero", base.replace("direction: -1, unit: percent", "direction: 0, unit: percent"),
        "features[0].direction")
    sch("schema_scale_inf", base.replace("scale: 100000", "scale: .inf"), "features[1].scale")
    sch("schema_scale_nan", base.replace("scale: 100000", "scale: .nan"), "features[1].scale")
    sch("schema_component_bogus", base.replace("component: robustness", "component: resilience"),
        "features[0].component")
    sch("schema_transform_bogus", base.replace("transform: log1p", "transform: sqrt"), "features[2].transform")
    sch("schema_features_empty", "features: []\ncolumns: {id: FIPS, lon: LON, lat: LAT}\n", "features")
    sch("schema_duplicate_feature_name", base.replace("{name: hospitals,", "{name: poverty,"), "features[1].name")
    sch("schema_columns_missing_lat", base.replace(", lat: LAT", ""), "columns.lat")
    sch("schema_malformed", base.replace("features:\n", "features: [\n", 1), "line")
    # 4. non-UTF-8 feature names (Latin-1 bytes)
    sch("schema_name_latin1", base.encode().replace(b"{name: roads,", b"{name: r\xf4utes,"), "features[2].name",
        mode="wb")
    # 5. a NUL in a feature name (a double-quoted YAML escape) would be cut short in the shard
    sch("schema_name_nul", base.replace("{name: roads,", "{name: \"roads\\0links\","), "features[2].name")
    sch("schema_region_and_region_name", base.replace("region: STATE,", "region: STATE, region_name: US,"),
        "columns.region_name")
    case("schema_is_directory", 2, ["{WORK}/schemadir", "folder || directory"],
         INGEST_SCHEMA.replace("{FILE}", "{WORK}/schemadir"), setup="mkdir {WORK}/schemadir")


def csv_cases():
    rows = ok_csv_rows()

    def csv(name, text, fragment, mode="w", command=INGEST):
        write_text(name + ".csv", text, mode)
        case(name, 2, [name + ".csv"] + ([fragment] if fragment else []), command)

    def with_cell(line, column, value):
        r = [list(x) for x in rows]
        r[line - 2][CSV_HEADER.index(column)] = value
        return csv_text(r)
    # 4. non-UTF-8 region names; 5. a NUL byte in a region name
    csv("csv_region_latin1", with_cell(3, "STATE", "Qu\xe9bec").encode("latin-1"), "line 3", mode="wb")
    csv("csv_region_nul", with_cell(4, "STATE", "Tex\x00as"), "line 4")
    csv("csv_region_invalid_utf8_sequence", with_cell(2, "STATE", "Ohio").encode().replace(b"Ohio", b"Oh\xc3\x28io", 1),
        "line 2", mode="wb")
    csv("csv_header_latin1", csv_text(rows, [h if h != "POV" else "P\xd6V" for h in CSV_HEADER]).encode("latin-1"),
        "POV", mode="wb")
    # 3. NaN/Inf coordinates and values
    csv("csv_lon_nan", with_cell(2, "LON", "nan"), "line 2")
    csv("csv_lon_inf", with_cell(5, "LON", "inf"), "line 5")
    csv("csv_lat_out_of_range", with_cell(6, "LAT", "91"), "line 6")
    csv("csv_value_inf", with_cell(7, "POV", "inf"), "line 7")
    csv("csv_value_1e39", with_cell(8, "POV", "1e39"), "line 8")
    csv("csv_value_3e38", with_cell(9, "POV", "3e38"), "line 9")
    csv("csv_value_not_a_number", with_cell(3, "POV", "12,5".replace(",", ";")), "line 3")
    csv("csv_hazard_inf", with_cell(4, "EAL", "inf"), "line 4")
    csv("csv_hazard_1e300", with_cell(4, "EAL", "1e300"), "line 4")
    csv("csv_per_capita_negative", with_cell(5, "POP", "-100"), "line 5")
    csv("csv_log1p_below_minus_one", with_cell(6, "ROADS", "-2"), "line 6")
    csv("csv_rating_7", with_cell(7, "RATING", "7"), "line 7")
    csv("csv_id_overflow", with_cell(8, "FIPS", "99999999999999999999"), "line 8")
    csv("csv_id_duplicate", with_cell(9, "FIPS", rows[0][0]), "line 9")
    csv("csv_id_missing", with_cell(10, "FIPS", ""), "line 10")
    csv("csv_region_empty", with_cell(11, "STATE", ""), "line 11")
    r = [list(x) for x in rows]
    r[3] = r[3][:-2]
    csv("csv_short_row", csv_text(r), "line 5")
    csv("csv_unterminated_quote", csv_text(rows).replace("Ohio", "\"Ohio", 1), "line")
    csv("csv_missing_column", csv_text([x[:-1] for x in rows], CSV_HEADER[:-1]), "RATING")
    csv("csv_duplicate_column", csv_text([x + ["1"] for x in rows], CSV_HEADER + ["POV"]), "POV")
    # 5./6. empty data
    csv("csv_empty", "", "")
    csv("csv_header_only", ",".join(CSV_HEADER) + "\n", "")
    csv("csv_binary_garbage", bytes(range(256)) * 8, "", mode="wb")
    case("csv_is_directory", 2, ["{WORK}/csvdir", "!empty file", "folder || directory"],
         INGEST.replace("{FILE}", "{WORK}/csvdir"), setup="mkdir {WORK}/csvdir")
    case("csv_missing_file", 2, ["{WORK}/none.csv"], INGEST.replace("{FILE}", "{WORK}/none.csv"))


def shard_cases():
    small = 12  # rows of shards only inspected

    def shard(name, mutate, fragments, commands=("inspect",), rows=small, shapes=None):
        s = Shard(rows)
        mutate(s)
        s.save(name + ".h5", shapes)
        for i, cmd in enumerate(commands):
            key = name if i == 0 else name + "@" + cmd
            template = {"inspect": INSPECT, "rate": RATE, "train": TRAIN_DATA, "explain": EXPLAIN,
                        "report": REPORT}[cmd]
            case(key, 2, [name + ".h5"] + fragments, template)

    def features(fn):
        def m(s):
            x = s.arr("features").copy()
            fn(x)
            s.set("features", x)
        return m

    # 3. +-Inf and +-3e38 feature values; NaN longitude
    shard("shard_feature_pos_inf", features(lambda x: x.__setitem__((5, 3), np.inf)), ["/features"],
          ("rate", "train", "inspect", "explain", "report"), rows=None)
    shard("shard_feature_neg_inf", features(lambda x: x.__setitem__((7, 0), -np.inf)), ["/features"],
          ("train", "inspect"), rows=None)
    shard("shard_feature_3e38", features(lambda x: x.__setitem__((9, 8), 3e38)), ["/features"],
          ("train", "rate", "inspect"), rows=None)
    shard("shard_feature_neg_3e38", features(lambda x: x.__setitem__((11, 1), -3e38)), ["/features"],
          ("train", "explain"), rows=None)

    def lonlat(i, j, v):
        def m(s):
            ll = s.arr("lonlat").copy()
            ll[i, j] = v
            s.set("lonlat", ll)
        return m
    shard("shard_lon_nan", lonlat(3, 0, np.nan), ["/lonlat"], ("rate", "inspect", "report"), rows=None)
    shard("shard_lat_inf", lonlat(4, 1, np.inf), ["/lonlat"], ("rate", "train"), rows=None)
    shard("shard_lon_out_of_range", lonlat(2, 0, 200.0), ["/lonlat"], ("rate",), rows=None)

    def set_col(name, i, v):
        def m(s):
            a = s.arr(name).copy()
            a[i] = v
            s.set(name, a)
        return m
    shard("shard_region_index_out_of_range", set_col("region", 6, 7), ["/region"], ("inspect", "rate", "train"),
          rows=None)
    shard("shard_hazard_inf", set_col("hazard", 5, np.inf), ["/hazard"], ("report", "inspect"), rows=None)

    def add_rating(v):
        def m(s):
            r = np.zeros(s.rows(), dtype=np.int8)
            r[3] = v
            s.set("external_rating", r)
        return m
    shard("shard_external_rating_9", add_rating(9), ["/external_rating"], ("inspect", "train"), rows=None)

    # dtypes and shapes
    shard("shard_features_float64", lambda s: s.set("features", s.arr("features").astype(np.float64)),
          ["/features", "float32"])
    shard("shard_features_wrong_columns", lambda s: s.set("features", s.arr("features")[:, :10]), ["/features"])
    shard("shard_cell_id_missing", lambda s: s.data.pop("cell_id"), ["/cell_id"])
    shard("shard_rows_mismatch", lambda s: s.set("cell_id", s.arr("cell_id")[:-3]), ["/cell_id"])
    shard("shard_features_is_group", lambda s: (s.data.pop("features"), s.groups.__setitem__("features", {})),
          ["/features"])

    # attributes
    def attr(name, value):
        return lambda s: s.attrs.__setitem__(name, value)
    shard("shard_format_wrong", attr("format", ("resilinet-checkpoint", STR)), ["format"])
    shard("shard_format_version_2", attr("format_version", (np.int32(2), np.dtype("int32"))), ["format_version"])
    shard("shard_format_missing", lambda s: s.attrs.pop("format"), ["format"])
    names = [str(n) for n in Shard().attrs["feature_names"][0]]
    shard("shard_direction_zero", attr("feature_direction", (np.array([0] + [1] * 11, np.int8), np.dtype("int8"))),
          ["feature_direction"])
    shard("shard_component_bogus", attr("feature_component", strings(["resilience"] * 12)), ["feature_component"])
    shard("shard_duplicate_feature_names", attr("feature_names", strings(names[:11] + [names[0]])), ["feature_names"])
    shard("shard_empty_feature_name", attr("feature_names", strings([""] + names[1:])), ["feature_names"])
    shard("shard_feature_system_short", attr("feature_system", strings(["facility"] * 5)), ["feature_system"])
    shard("shard_region_names_empty", attr("region_names", strings([])), ["region_names"])
    shard("shard_region_names_not_strings", attr("region_names", (np.array([1, 2], np.int32), np.dtype("int32"))),
          ["region_names"])
    # 4. non-UTF-8 names in a shard (written by another tool): refused when opened
    shard("shard_region_name_latin1",
          attr("region_names", (np.array([b"metro-a", b"Montr\xe9al"], dtype=h5py.string_dtype("ascii")),
                                h5py.string_dtype("ascii"))),
          ["region_names"], ("rate", "inspect"), rows=None)
    shard("shard_feature_name_latin1",
          attr("feature_names", (np.array([n.encode() if i else b"\xe2ge_b\xe2timent" for i, n in enumerate(names)],
                                          dtype=h5py.string_dtype("ascii")), h5py.string_dtype("ascii"))),
          ["feature_names"], ("train", "inspect"), rows=None)

    # 6. zero rows: valid for inspect, but nothing to train on
    def zero_rows(s):
        for k, (arr, a) in list(s.data.items()):
            s.data[k] = (arr[:0], a)
        s.attrs["region_names"] = strings([])
    s = Shard()
    zero_rows(s)
    s.save("shard_zero_rows.h5")
    case("shard_zero_rows", 2, ["shard_zero_rows.h5", "rows || cells"], TRAIN_DATA)
    case("shard_zero_rows@rate", 2, ["shard_zero_rows.h5", "rows || cells"], RATE)
    case("shard_zero_rows@inspect", 0, [], INSPECT)

    # 2. a few-KB shard whose datasets claim 2^40 rows (nothing stored: HDF5 returns fill values)
    def huge(chunks):
        def m(s):
            for k in list(s.data):
                arr = s.data.pop(k)[0]
                s.shapes[k] = ((1 << 40,) + arr.shape[1:], arr.dtype, (1024,) + arr.shape[1:] if chunks else None)
        return m
    for name, chunks in (("shard_rows_2pow40", True), ("shard_rows_2pow40_contiguous", False)):
        s = Shard(small)
        s.shapes = {}
        huge(chunks)(s)
        s.save(name + ".h5", s.shapes)
        for i, (cmd, t) in enumerate((("inspect", INSPECT), ("rate", RATE), ("train", TRAIN_DATA))):
            case(name if i == 0 else name + "@" + cmd, 2, [name + ".h5", "/features || rows"], t,
                 options="timeout=30")

    # 1. variable-length string attributes with a corrupted length (global heap object size)
    Shard(small).save("tmp_vlen.h5")
    for name, text, size in (("shard_vlen_length_huge", "building_age", 0x7FFFFFFFFFFF),
                             ("shard_vlen_length_past_heap", "building_age", 5000),
                             ("shard_vlen_format_length_huge", "resilinet-shard", 1 << 60),
                             ("shard_vlen_region_length_huge", "metro-b", 0xFFFFFFFF)):
        corrupt_heap_length(out("tmp_vlen.h5"), out(name + ".h5"), text, size)
        case(name, 2, [name + ".h5"], INSPECT)
    os.remove(out("tmp_vlen.h5"))
    case("shard_vlen_length_huge@rate", 2, ["shard_vlen_length_huge.h5"], RATE)

    # corrupt files; 6. HDF5 errors must be one line
    Shard(small).save("tmp_ok.h5")
    good = open(out("tmp_ok.h5"), "rb").read()
    os.remove(out("tmp_ok.h5"))
    write_text("shard_truncated.h5", good[: len(good) // 2], "wb")
    case("shard_truncated", 2, ["shard_truncated.h5"], INSPECT)
    case("shard_truncated@rate", 2, ["shard_truncated.h5"], RATE)
    write_text("shard_superblock_zeroed.h5", b"\x89HDF\r\n\x1a\n" + bytes(56) + good[64:], "wb")
    case("shard_superblock_zeroed", 2, ["shard_superblock_zeroed.h5"], INSPECT)
    write_text("shard_not_hdf5.h5", b"cell_id,lon,lat\n1,2,3\n", "wb")
    case("shard_not_hdf5", 2, ["shard_not_hdf5.h5"], INSPECT)
    write_text("shard_empty_file.h5", b"", "wb")
    case("shard_empty_file", 2, ["shard_empty_file.h5"], INSPECT)
    # bytes of the data area of /features overwritten with 0xFF (NaN payloads and garbage) are fine;
    # the object headers zeroed are not
    bad = bytearray(good)
    at = bad.find(b"OHDR")
    pos = 512 if at < 0 else at
    bad[pos:pos + 256] = bytes(256)
    write_text("shard_object_headers_zeroed.h5", bytes(bad), "wb")
    case("shard_object_headers_zeroed", 2, ["shard_object_headers_zeroed.h5"], INSPECT)

    # 6. a unit mismatch must show the difference (a zero-width space, NFD vs NFC): against the
    # first shard of a set, and against the checkpoint
    def unit(i, value):
        def m(s):
            units = [str(u) for u in s.attrs["feature_unit"][0]]
            units[i] = value
            s.attrs["feature_unit"] = strings(units)
        return m
    pair = "mkdir {WORK}/set; cp {BASE}/shard.h5 {WORK}/set/a.h5; cp {FILE} {WORK}/set/b.h5"
    for name, value in (("shard_unit_zero_width", "years\u200b"), ("shard_unit_trailing_space", "years "),
                        ("shard_unit_decomposed", "ann\u0065\u0301es")):
        s = Shard(small if name != "shard_unit_decomposed" else None)
        unit(0, value)(s)
        s.save(name + ".h5")
        if name == "shard_unit_decomposed":  # the base says "years"; this one the NFD of "années"
            continue
        case(name, 2, ["b.h5", "feature_unit"], "{BIN} inspect {WORK}/set", setup=pair, options="distinct")
        case(name + "@rate", 2, [name + ".h5", "unit"], RATE, options="distinct")
    s = Shard()
    unit(0, "ann\u00e9es")(s)
    s.save("shard_unit_precomposed.h5")
    case("shard_unit_precomposed", 2, ["b.h5", "feature_unit"],
         "{BIN} inspect {WORK}/set",
         setup="mkdir {WORK}/set; cp {FILE} {WORK}/set/a.h5; cp {BAD}/shard_unit_decomposed.h5 {WORK}/set/b.h5",
         options="distinct")
    s = Shard(small)
    unit(3, "percent of land")(s)
    s.save("shard_unit_plain.h5")
    case("shard_unit_plain", 2, ["b.h5", "feature_unit", "percent of land"], "{BIN} inspect {WORK}/set",
         setup=pair, options="distinct")
    case("shard_unit_plain@rate", 2, ["shard_unit_plain.h5", "unit", "percent of land"], RATE, options="distinct")
    s = Shard(small)
    s.attrs["feature_direction"] = (np.array([1] * 12, np.int8), np.dtype("int8"))
    s.save("shard_direction_flipped.h5")
    case("shard_direction_flipped", 2, ["b.h5", "feature_direction"], "{BIN} inspect {WORK}/set", setup=pair,
         options="distinct")
    case("shard_direction_flipped@rate", 2, ["shard_direction_flipped.h5", "direction"], RATE, options="distinct")


def group_cases():
    """Groupings (/groups/<name>) and /population in shards, and the ingest keys that make them:
    codes past the labels, other groupings than the set's first shard, negative or infinite
    population, labels that are missing, empty or not UTF-8, wrong dtypes and names."""
    def grouped(s, codes=None, labels=("d0", "d1", "d2"), population=True, name="district"):
        n = s.rows()
        codes = (np.arange(n) % len(labels)).astype(np.uint32) if codes is None else codes
        s.data["groups/" + name] = (codes, {"labels": strings(list(labels))} if labels is not None else {})
        if population:
            s.data["population"] = (np.arange(n, dtype=np.float32) * 10 + 5, {})
        return s

    s = grouped(Shard())
    s.save("ok_shard_groups.h5")
    case("ok_shard_groups", 0, [], RATE)
    case("ok_shard_groups@inspect", 0, [], INSPECT)

    def gshard(name, mutate, fragments, commands=("inspect",)):
        s = grouped(Shard())
        mutate(s)
        s.save(name + ".h5")
        for i, cmd in enumerate(commands):
            template = {"inspect": INSPECT, "rate": RATE, "train": TRAIN_DATA, "report": REPORT}[cmd]
            case(name if i == 0 else name + "@" + cmd, 2, [name + ".h5"] + fragments, template)

    def codes(i, v):
        def m(s):
            a = s.arr("groups/district").copy()
            a[i] = v
            s.set("groups/district", a)
        return m

    def population(i, v):
        def m(s):
            a = s.arr("population").copy()
            a[i] = v
            s.set("population", a)
        return m
    gshard("shard_group_code_out_of_range", codes(7, 3), ["/groups/district", "below 3", "3 at row 7"],
           ("inspect", "rate", "train"))
    gshard("shard_population_negative", population(5, -5), ["/population", ">= 0", "-5 at row 5"],
           ("inspect", "rate", "train"))
    gshard("shard_population_inf", population(2, np.inf), ["/population", "at row 2"], ("inspect", "report"))
    gshard("shard_group_labels_missing", lambda s: s.data["groups/district"][1].clear(),
           ["/groups/district labels", "missing"], ("inspect", "rate"))
    gshard("shard_group_labels_empty", lambda s: s.data["groups/district"][1].__setitem__("labels", strings([])),
           ["/groups/district labels", "at least one label"])
    gshard("shard_group_label_latin1",
           lambda s: s.data["groups/district"][1].__setitem__(
               "labels", (np.array([b"d0", b"d\xe91", b"d2"], dtype=h5py.string_dtype("ascii")),
                          h5py.string_dtype("ascii"))),
           ["/groups/district labels[1]"], ("inspect", "rate"))
    gshard("shard_group_codes_int64", lambda s: s.set("groups/district", s.arr("groups/district").astype(np.int64)),
           ["/groups/district", "uint32"])
    gshard("shard_group_rows_mismatch", lambda s: s.set("groups/district", s.arr("groups/district")[:-4]),
           ["/groups/district", "60 rows"])
    gshard("shard_group_name_invalid", lambda s: s.data.__setitem__("groups/county name", s.data.pop("groups/district")),
           ["/groups/county name", "ASCII"])
    gshard("shard_group_name_region", lambda s: s.data.__setitem__("groups/region", s.data.pop("groups/district")),
           ["/groups/region", "not 'region'"])
    gshard("shard_groups_is_dataset",
           lambda s: s.data.__setitem__("groups", (s.data.pop("groups/district")[0], {})), ["/groups", "a group"])

    # All shards of a set have the same groupings: the error names the second shard and both lists.
    s = grouped(Shard(), name="county")
    s.save("shard_group_names_mismatch.h5")
    pair = "mkdir {WORK}/set; cp {BAD}/ok_shard_groups.h5 {WORK}/set/a.h5; cp {FILE} {WORK}/set/b.h5"
    case("shard_group_names_mismatch", 2, ["b.h5", "/groups", "(district)", "found (county)"],
         "{BIN} inspect {WORK}/set", setup=pair)
    case("shard_group_names_mismatch@rate", 2, ["b.h5", "/groups", "(district)", "found (county)"],
         "{BIN} rate --quiet --checkpoint {BASE}/checkpoint.h5 --data {WORK}/set --out {WORK}/out", setup=pair)
    case("shard_group_names_mismatch@none", 2, ["b.h5", "/groups", "(county)", "found none"],
         "{BIN} inspect {WORK}/set", setup="mkdir {WORK}/set; cp {FILE} {WORK}/set/a.h5; cp {BASE}/shard.h5 {WORK}/set/b.h5")

    # Ingest: columns.groups and columns.population
    schema = SCHEMA_YAML.replace("columns: {id: FIPS, lon: LON, lat: LAT, region: STATE, hazard: EAL, external_rating: RATING}",
                                 "columns: {id: FIPS, lon: LON, lat: LAT, region_name: US, groups: {state: STATE},"
                                 " population: POP}")
    schema = schema.replace("transform: per_capita, per: POP, scale: 100000", "transform: log1p")
    assert "groups:" in schema and "per_capita" not in schema
    write_text("ok_schema_groups.yaml", schema)
    case("ok_schema_groups", 0, [], INGEST_SCHEMA)
    ingest_groups = "{BIN} ingest --quiet --csv {FILE} --schema {BAD}/ok_schema_groups.yaml --out {WORK}/out"
    rows = ok_csv_rows()

    def csv(name, line, column, value, fragments):
        r = [list(x) for x in rows]
        r[line - 2][CSV_HEADER.index(column)] = value
        write_text(name + ".csv", csv_text(r))
        case(name, 2, [name + ".csv", "line %d" % line, column] + fragments, ingest_groups)
    csv("csv_population_negative", 4, "POP", "-5", ["residents"])
    csv("csv_population_inf", 6, "POP", "inf", ["finite"])
    csv("csv_group_label_empty", 5, "STATE", "", ["label", "state"])

    def sch(name, text, fragment):
        write_text(name + ".yaml", text)
        case(name, 2, [name + ".yaml", fragment], INGEST_SCHEMA)
    sch("schema_groups_named_region", schema.replace("groups: {state: STATE}", "groups: {region: STATE}"),
        "columns.groups.region")
    sch("schema_groups_duplicate", schema.replace("groups: {state: STATE}", "groups: [STATE, STATE]"),
        "columns.groups")
    sch("schema_groups_bad_name", schema.replace("groups: {state: STATE}", "groups: [\"STATE NAME\"]"),
        "columns.groups[0]")
    sch("schema_groups_scalar", schema.replace("groups: {state: STATE}", "groups: STATE"), "columns.groups")
    sch("schema_population_missing_column", schema.replace("population: POP", "population: PEOPLE"),
        "columns.population")


def fuzz_cases():
    """Crashes and hangs a byte-mutation fuzzer found (inspect and rate on mutated shards): corrupt
    variable-length string references and string types in the attribute messages."""
    Shard(12).save("tmp_fuzz.h5")
    good = bytearray(open(out("tmp_fuzz.h5"), "rb").read())
    os.remove(out("tmp_fuzz.h5"))

    def mutant(name, pos, new):
        d = bytearray(good)
        patch_metadata(d, pos, new)
        write_text(name + ".h5", bytes(d), "wb")
    pos = vlen_descriptor(good, "building_age")
    index = struct.unpack_from("<I", good, pos + 12)[0]
    mutant("fuzz_vlen_index_huge", pos + 12, struct.pack("<I", index | 0x36000000))  # was SIGSEGV
    case("fuzz_vlen_index_huge", 2, ["fuzz_vlen_index_huge.h5"], INSPECT)
    case("fuzz_vlen_index_huge@rate", 2, ["fuzz_vlen_index_huge.h5"], RATE)
    pos = vlen_descriptor(good, "resourcefulness")
    mutant("fuzz_vlen_sequence_length_huge", pos + 3, b"\xc7")  # was a hang (3.3 GB string)
    # libhdf5 allocates and clears the claimed 3.3 GB before it copies the string (tens of seconds;
    # 4 GB for each of the 12 names is minutes): a few-KB file must be refused at once
    case("fuzz_vlen_sequence_length_huge", 2, ["fuzz_vlen_sequence_length_huge.h5"], INSPECT,
         options="timeout=3")
    # the variable-length string type of feature_names: its base type (1-byte characters) made huge
    at = good.find(b"feature_names\x00")
    vlen_type = bytes([0x19, 0x01, 0x01, 0x00]) + struct.pack("<I", 16) + bytes([0x10, 0, 0, 0]) + struct.pack("<I", 1)
    pos = good.find(vlen_type, at)
    assert at >= 0 and pos >= 0
    mutant("fuzz_vlen_char_size_huge", pos + 15, b"\x1f")  # was a hang
    case("fuzz_vlen_char_size_huge", 2, ["fuzz_vlen_char_size_huge.h5"], INSPECT, options="timeout=3")
    # the same in a checkpoint (explain and rate crashed); version 1 object headers, which hold all
    # attributes and have no checksums, as a tool writing the oldest format makes them
    Ckpt().save("tmp_fuzz.h5", fixed_strings=False, earliest=True)
    good = bytearray(open(out("tmp_fuzz.h5"), "rb").read())
    os.remove(out("tmp_fuzz.h5"))
    pos = vlen_descriptor(good, "resilinet-checkpoint")
    index = struct.unpack_from("<I", good, pos + 12)[0]
    mutant("fuzz_ckpt_vlen_index_huge", pos + 12, struct.pack("<I", index | 0x7f000000))
    case("fuzz_ckpt_vlen_index_huge", 2, ["fuzz_ckpt_vlen_index_huge.h5"], EXPLAIN_CK)
    case("fuzz_ckpt_vlen_index_huge@rate", 2, ["fuzz_ckpt_vlen_index_huge.h5"], RATE_CK)
    # a carriage return in a key of the stored config: the message must not echo control characters
    c = Ckpt()
    c.attr("config_yaml", str(c.attrs["config_yaml"][0]).replace("device:", "dev\rice:", 1))
    c.save("fuzz_ckpt_config_key_carriage_return.h5")
    case("fuzz_ckpt_config_key_carriage_return", 2, ["fuzz_ckpt_config_key_carriage_return.h5", "config_yaml"],
         EXPLAIN_CK)


def checkpoint_cases():
    def ck(name, mutate, fragments, commands=("rate",), base="checkpoint.h5"):
        c = Ckpt(base)
        mutate(c)
        c.save(name + ".h5")
        for i, cmd in enumerate(commands):
            key = name if i == 0 else name + "@" + cmd
            case(key, 2, [name + ".h5"] + fragments, {"rate": RATE_CK, "explain": EXPLAIN_CK, "report": REPORT_CK}[cmd])

    def setv(path, fn):
        def m(c):
            a = np.array(c.arr(path), copy=True)
            c.set(path, fn(a))
        return m

    def at(i, v):
        def f(a):
            a.flat[i] = v
            return a
        return f
    # 1. scaler/max of the wrong length (explain crashed)
    ck("ckpt_scaler_max_short", setv("scaler/max", lambda a: a[:5]), ["scaler"], ("explain", "rate", "report"))
    ck("ckpt_scaler_min_long", setv("scaler/min", lambda a: np.concatenate([a, a])), ["scaler"], ("explain",))
    # 3. checkpoint contents
    ck("ckpt_scaler_type_bogus", lambda c: c.groups["scaler"].__setitem__("type", ("quantile", STR)), ["scaler/type"],
       ("rate", "explain"))
    ck("ckpt_scaler_scale_zero", setv("scaler/scale", at(2, 0.0)), ["scaler/scale"], ("rate", "explain"))
    ck("ckpt_scaler_scale_nan", setv("scaler/scale", at(0, np.nan)), ["scaler/scale"])
    ck("ckpt_scaler_median_nan", setv("scaler/median", at(3, np.nan)), ["scaler/median"], ("rate", "explain"))
    ck("ckpt_scaler_max_inf", setv("scaler/max", at(3, np.inf)), ["scaler/max"], ("explain",))
    ck("ckpt_scaler_clip_nan", setv("scaler/clip", at(0, np.nan)), ["scaler/clip"])
    # A scalar where an array of rows belongs (fuzz_checkpoint: read past an empty shape).
    ck("ckpt_cluster_scale_scalar", setv("clusters/scale", lambda a: np.float64(a.flat[0])), ["scale", "a scalar"])
    ck("ckpt_scaler_clip_negative", setv("scaler/clip", at(0, -1.0)), ["scaler/clip"])
    ck("ckpt_levels_out_of_range", setv("clusters/level", at(1, 7)), ["clusters/level"], ("rate", "explain", "report"))
    ck("ckpt_levels_duplicate", setv("clusters/level", lambda a: np.full_like(a, 1)), ["clusters/level"],
       ("rate", "report"))
    ck("ckpt_levels_short", setv("clusters/level", lambda a: a[:2]), ["clusters"])
    ck("ckpt_autoencoder_params_nan", setv("autoencoder/params", at(10, np.nan)), ["autoencoder/params"],
       ("rate", "explain"))
    ck("ckpt_classifier_params_inf", setv("classifier/params", at(3, np.inf)), ["classifier/params"],
       ("explain", "rate"))
    ck("ckpt_classifier_params_short", setv("classifier/params", lambda a: a[:-1]), ["classifier/params"])
    ck("ckpt_autoencoder_layout_changed", setv("autoencoder/layout", at(1, 99)), ["autoencoder/layout"])
    ck("ckpt_centroids_nan", setv("clusters/centroids", at(0, np.nan)), ["clusters/centroids"], ("rate", "report"))
    ck("ckpt_cluster_scale_zero", setv("clusters/scale", at(0, 0.0)), ["clusters/scale"])
    ck("ckpt_stage_pretrain", lambda c: c.attr("stage", "pretrain"), ["stage"], ("rate", "explain", "report"))
    ck("ckpt_stage_bogus", lambda c: c.attr("stage", "finished"), ["stage"])
    ck("ckpt_format_version_1", lambda c: c.attr("format_version", np.int32(1)), ["format_version"])
    ck("ckpt_format_missing", lambda c: c.attrs.pop("format"), ["format"])
    ck("ckpt_scaler_missing", lambda c: [c.data.pop(k) for k in list(c.data) if k.startswith("scaler/")] and
       c.groups.pop("scaler"), ["scaler"])
    ck("ckpt_config_yaml_malformed", lambda c: c.attr("config_yaml", "run: {dir: [\n"), ["config_yaml"])
    ck("ckpt_config_yaml_beta2_one",
       lambda c: c.attr("config_yaml", str(c.attrs["config_yaml"][0]).replace("beta2: 0.999", "beta2: 1", 1)),
       ["config_yaml", "beta2"])
    ck("ckpt_config_yaml_k_changed",
       lambda c: c.attr("config_yaml", str(c.attrs["config_yaml"][0]).replace("k: 3", "k: 4", 1)),
       ["clusters || layout"])
    ck("ckpt_stage_metrics_not_json", lambda c: c.attr("stage_metrics", "{not json"), ["stage_metrics"])
    ck("ckpt_feature_attrs_lengths_differ",
       lambda c: c.attr("feature_unit", np.array([str(u) for u in c.attrs["feature_unit"][0]][:4], dtype=STR)),
       ["feature_unit || feature_*"])
    ck("ckpt_feature_direction_zero",
       lambda c: c.attr("feature_direction", np.zeros(12, np.int8)), ["feature_direction"], ("explain", "report"))
    ck("ckpt_feature_component_bogus",
       lambda c: c.attr("feature_component", np.array(["x"] * 12, dtype=STR)), ["feature_component"],
       ("explain",))
    # the mutated checkpoints hold fixed-length strings (smaller files); unmutated, that is valid
    Ckpt().save("ckpt_fixed_strings.h5")
    case("ckpt_fixed_strings", 0, [], RATE_CK)
    # an infinite clip means no clipping: valid, and the outputs must stay finite
    c = Ckpt()
    c.set("scaler/clip", np.array([np.inf]))
    c.save("ckpt_scaler_clip_inf.h5")
    case("ckpt_scaler_clip_inf", 0, [], RATE_CK)
    case("ckpt_scaler_clip_inf@explain", 0, [], EXPLAIN_CK)
    # 1. a corrupted variable-length string length in a checkpoint
    Ckpt().save("tmp_ck.h5", fixed_strings=False)
    corrupt_heap_length(out("tmp_ck.h5"), out("ckpt_vlen_length_huge.h5"), "robust", 0x7FFFFFFFFFFF)
    good = open(out("tmp_ck.h5"), "rb").read()
    os.remove(out("tmp_ck.h5"))
    case("ckpt_vlen_length_huge", 2, ["ckpt_vlen_length_huge.h5"], RATE_CK)
    case("ckpt_vlen_length_huge@explain", 2, ["ckpt_vlen_length_huge.h5"], EXPLAIN_CK)
    write_text("ckpt_empty_file.h5", b"", "wb")
    case("ckpt_empty_file", 2, ["ckpt_empty_file.h5"], RATE_CK)
    write_text("ckpt_truncated.h5", good[: len(good) * 2 // 3], "wb")
    case("ckpt_truncated", 2, ["ckpt_truncated.h5"], RATE_CK)
    case("ckpt_truncated@explain", 2, ["ckpt_truncated.h5"], EXPLAIN_CK)


def resume_cases():
    def rs(name, base, mutate, fragments, latent=False):
        c = Ckpt(base)
        mutate(c)
        c.save(name + ".h5")
        # the file is copied to the run folder: the message names out/checkpoint.h5
        case(name, 2, ["out/checkpoint.h5"] + fragments, RESUME_LATENT if latent else RESUME, setup=RESUME_SETUP)

    def setv(path, fn):
        def m(c):
            c.set(path, fn(np.array(c.arr(path), copy=True)))
        return m

    def at(i, v):
        def f(a):
            a.flat[i] = v
            return a
        return f

    def gattr(group, key, value, dtype):
        return lambda c: c.groups[group].__setitem__(key, (value, dtype))
    i32 = np.dtype("int32")
    P, C, I = "progress_pretrain.h5", "progress_classifier.h5", "progress_idec.h5"
    Ckpt(I).save("resume_fixed_strings.h5")  # as the mutants below are written: valid
    case("resume_fixed_strings", 0, [], RESUME_LATENT, setup=RESUME_SETUP)
    # 3. corrupt in-progress state: Adam moments, epochs and steps
    rs("resume_adam_v_negative", P, setv("in_progress/adam_v", at(5, -1.0)), ["in_progress/adam_v"])
    rs("resume_adam_v_nan", P, setv("in_progress/adam_v", at(0, np.nan)), ["in_progress/adam_v"])
    rs("resume_adam_m_nan", C, setv("in_progress/adam_m", at(2, np.nan)), ["in_progress/adam_m"])
    rs("resume_adam_m_inf", P, setv("in_progress/adam_m", at(1, -np.inf)), ["in_progress/adam_m"])
    rs("resume_epoch_huge", P, gattr("in_progress", "epoch", np.int32(2**31 - 1), i32), ["in_progress/epoch"])
    rs("resume_epoch_negative", C, gattr("in_progress", "epoch", np.int32(-3), i32), ["in_progress/epoch"])
    rs("resume_epoch_beyond_stage", P, gattr("in_progress", "epoch", np.int32(5000), i32), ["in_progress/epoch"])
    rs("resume_step_huge", P, lambda c: (setv("in_progress/step", at(0, 2**63))(c),
                                         setv("in_progress/adam_step", at(0, 2**62))(c)), ["in_progress/step"])
    rs("resume_adam_step_negative", P, setv("in_progress/adam_step", at(0, -5)), ["in_progress/adam_step"])
    rs("resume_adam_step_above_step", C, setv("in_progress/adam_step", at(0, 10**6)), ["in_progress/adam_step"])
    rs("resume_stage_bogus", P, gattr("in_progress", "stage", "finetune", STR), ["in_progress/stage"])
    rs("resume_stage_out_of_order", P, gattr("in_progress", "stage", "classifier", STR), ["in_progress"])
    # labels out of range: the cluster levels of a checkpoint after clustering
    rs("resume_labels_out_of_range", C, setv("clusters/level", at(2, 9)), ["clusters/level"])
    rs("resume_scaler_scale_zero", P, setv("scaler/scale", at(0, 0.0)), ["scaler/scale"])
    rs("resume_params_nan", P, setv("autoencoder/params", at(0, np.nan)), ["autoencoder/params"])
    # IDEC state under way
    rs("resume_idec_frequency_nan", I, setv("in_progress/frequency", at(0, np.nan)), ["frequency"], latent=True)
    rs("resume_idec_frequency_negative", I, setv("in_progress/frequency", at(1, -0.5)), ["frequency"], latent=True)
    rs("resume_idec_lr_scale_nan", I, setv("in_progress/changed_lr_scale", at(1, np.nan)), ["changed_lr_scale"],
       latent=True)
    rs("resume_idec_lr_scale_zero", I, setv("in_progress/changed_lr_scale", at(1, 0.0)), ["changed_lr_scale"],
       latent=True)
    rs("resume_idec_rollbacks_negative", I, setv("in_progress/refreshes_rollbacks", at(1, -7)),
       ["refreshes_rollbacks"], latent=True)
    rs("resume_idec_centroid_adam_v_negative", I, setv("in_progress/centroid_adam_v", at(0, -1.0)),
       ["centroid_adam_v || centroid_adam"], latent=True)
    rs("resume_idec_accepted_params_nan", I, setv("in_progress/accepted/params", at(3, np.nan)),
       ["accepted/params || accepted"], latent=True)
    rs("resume_idec_start_json_garbage", I, gattr("in_progress", "start_json", "{oops", STR), ["start_json"],
       latent=True)
    # a resume under another config is refused (regression)
    case("resume_other_config", 2, ["run.seed"], RESUME + " --seed 5",
         setup="mkdir {WORK}/out; cp {BASE}/progress_pretrain.h5 {WORK}/out/checkpoint.h5")


def write_failure_cases():
    """Write failures: exit 1 and one line 'cannot write PATH: reason'; nothing under final names.
    An output folder that cannot be made or written is bad input instead (exit 2)."""
    limit = "ulimit_f=4096"
    out_dir = "cannot write {WORK}/out || cannot write out/"  # train names its run folder as configured
    base = " --quiet --checkpoint {BASE}/checkpoint.h5 --data {BASE}/shard.h5 --out {WORK}/out"
    cases = [
        ("write_ulimit_rate", "{BIN} rate" + base),
        ("write_ulimit_explain", "{BIN} explain" + base),
        ("write_ulimit_report", "{BIN} report" + base),
        ("write_ulimit_train", "{BIN} train --quiet --config {BASE}/tiny.yaml"),
        ("write_ulimit_synth", "{BIN} synth --quiet --cells 2000 --regions 1 --out {WORK}/out"),
        ("write_ulimit_ingest", INGEST.replace("{FILE}", "{BASE}/ok.csv")),
    ]
    for name, cmd in cases:
        case(name, 1, [out_dir], cmd, options=limit)
    case("write_ulimit_rate_sigxfsz_ignored", 1, [out_dir], cases[0][1], options=limit + " sigxfsz=ignore")
    case("write_ulimit_train_sigxfsz_ignored", 1, [out_dir], cases[3][1], options=limit + " sigxfsz=ignore")
    # An output folder this user cannot write into (run as nobody when the test runs as root) is
    # bad input, found before anything is written: exit 2 naming the folder.
    setup = "mkdir {WORK}/out; chmod 555 {WORK}/out"
    writable = "{WORK}/out || out:"
    for (name, cmd) in cases:
        case(name.replace("ulimit", "unwritable"), 2, [writable, "a writable folder"], cmd, setup=setup,
             options="unprivileged")
    case("write_unwritable_parent_rate", 2, ["{WORK}/ro/out", "a folder that can be created"],
         cases[0][1].replace("{WORK}/out", "{WORK}/ro/out"), setup="mkdir {WORK}/ro; chmod 555 {WORK}/ro",
         options="unprivileged")


def report_input_cases():
    rep = REPORT.replace("{FILE}", "{BASE}/shard.h5")

    def js(name, text, option):
        write_text(name + ".json", text)
        case(name, 2, [name + ".json", option], rep + " " + option + " {FILE}")
    js("report_metrics_malformed", "{\"clusters\": [1, 2\n", "--metrics")
    js("report_metrics_nan_literal", "{\"evaluation\": {\"silhouette\": NaN}}\n", "--metrics")
    js("report_metrics_wrong_types", "{\"clusters\": {\"space\": 5, \"warnings\": {\"a\": 1}}, "
       "\"evaluation\": {\"baseline_kmeans\": [1]}}\n", "--metrics")
    js("report_metrics_list", "[1, 2, 3]\n", "--metrics")
    js("report_explain_wrong_types", "{\"overall\": 5, \"levels\": \"none\", \"features\": {\"x\": [1]}}\n",
       "--explain")
    case("report_metrics_is_directory", 2, ["{WORK}/mdir", "--metrics", "folder || directory"],
         rep + " --metrics {WORK}/mdir",
         setup="mkdir {WORK}/mdir")


def control_cases():
    """The base inputs are valid: these must succeed (and write no NaN or infinity)."""
    case("ok_inspect_base", 0, [], "{BIN} inspect {BASE}/shard.h5")
    case("ok_rate_base", 0, [], RATE.replace("{FILE}", "{BASE}/shard.h5"))
    case("ok_explain_base", 0, [], EXPLAIN.replace("{FILE}", "{BASE}/shard.h5"))
    case("ok_report_base", 0, [], REPORT.replace("{FILE}", "{BASE}/shard.h5"))
    case("ok_train_base", 0, [], "{BIN} train --quiet --config {BASE}/tiny.yaml")
    case("ok_ingest_base", 0, [], INGEST.replace("{FILE}", "{BASE}/ok.csv"))
    case("ok_resume_pretrain", 0, [], RESUME,
         setup="mkdir {WORK}/out; cp {BASE}/progress_pretrain.h5 {WORK}/out/checkpoint.h5")
    case("ok_resume_classifier", 0, [], RESUME,
         setup="mkdir {WORK}/out; cp {BASE}/progress_classifier.h5 {WORK}/out/checkpoint.h5")
    case("ok_resume_idec", 0, [], RESUME_LATENT,
         setup="mkdir {WORK}/out; cp {BASE}/progress_idec.h5 {WORK}/out/checkpoint.h5")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "..", "build", "resilinet"))
    ap.add_argument("--rebuild-base", action="store_true", help="rewrite base/ with --bin first")
    args = ap.parse_args()
    if args.rebuild_base or not os.path.exists(os.path.join(BASE, "checkpoint.h5")):
        rebuild_base(args.bin)
    for name in os.listdir(HERE):  # every case file is rewritten
        if name != "base" and name != "make_corpus.py" and name != "README.md" and not name.startswith("."):
            path = out(name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    control_cases()
    config_cases()
    cli_cases()
    explain_config_cases()
    scenario_cases()
    schema_cases()
    csv_cases()
    shard_cases()
    group_cases()
    fuzz_cases()
    checkpoint_cases()
    resume_cases()
    write_failure_cases()
    report_input_cases()
    with open(out("cases.tsv"), "w") as f:
        f.write("# Written by make_corpus.py; one row per case, run by tests/bad_inputs_test.py (README.md).\n")
        f.write("case\texit\tfragments\toptions\tsetup\tcommand\n")
        for row in ROWS:
            f.write("\t".join(row) + "\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(HERE) for n in ns)
    print("make_corpus: %d cases, %d files, %.0f KB in %s" % (
        len(ROWS), sum(len(ns) for _, _, ns in os.walk(HERE)), total / 1024, HERE))


if __name__ == "__main__":
    main()
