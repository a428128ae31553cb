#!/usr/bin/env python3
"""Comparisons for scripts/gpu-check.sh, standard library only (h5py is used where present, for
bitwise checkpoint comparison alone). Each subcommand prints one JSON object and exits 0 when its
criteria hold, 1 when they do not, 2 on unreadable input.

  ratings A.csv B.csv [--min-agreement 0.999] [--min-ari 0]
      two `resilinet rate` outputs (ratings.csv) of the same cells: share of cells with the same
      level and cluster level, adjusted Rand index (ARI) of both, largest |dp| (level probabilities) and |dz|
  relevance A.csv B.csv [--rtol 1e-3] [--atol-scale 1e-4] [--min-share 0.999]
      two `resilinet explain` outputs (relevance.csv): A is the reference (CPU). On the cells whose
      seed level agrees, element (i, f) is within tolerance when
          |R_b - R_a| <= atol_scale * max|R_a| + rtol * |R_a|
      and a cell passes when all its features do; the check holds when the share of passing cells
      is >= min_share and the levels agree on >= min_share of the cells
  checkpoints A.h5 B.h5
      every dataset of two checkpoints bitwise equal (attributes such as config_yaml are not
      compared: run.dir and run.device differ between runs); exit 3 when h5py is missing
  metrics RUN_DIR/metrics.json
      the key numbers of a run (ARI against the planted levels, head macro-F1, steps)
  bench OURS.jsonl PEER.jsonl [--markdown]
      JSON lines of bench/gpu_bench and bench/peer_torch_gpu.py: per workload the milliseconds of
      each side and the ratio torch / resilinet (above 1: resilinet faster), and the share of the
      device's FP32 and memory peaks
"""
import argparse
import csv
import json
import math
import sys
from collections import Counter


def fail_input(message):
    print(json.dumps({"error": message}))
    sys.exit(2)


def read_csv(path):
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
    except (OSError, StopIteration) as e:
        fail_input(f"{path}: {e or 'empty file'}")
    return header, rows


def columns(header, prefix):
    return [i for i, name in enumerate(header) if name.startswith(prefix)]


def aligned(path_a, path_b):
    """Rows of both files in the same cell order (by cell_id), and both headers."""
    header_a, rows_a = read_csv(path_a)
    header_b, rows_b = read_csv(path_b)
    if header_a != header_b:
        fail_input(f"{path_a} and {path_b} have different columns")
    cell = header_a.index("cell_id")
    if len(rows_a) != len(rows_b):
        fail_input(f"{path_a}: {len(rows_a)} rows, {path_b}: {len(rows_b)} rows")
    if any(ra[cell] != rb[cell] for ra, rb in zip(rows_a, rows_b)):
        index = {r[cell]: r for r in rows_b}
        if len(index) != len(rows_b) or any(r[cell] not in index for r in rows_a):
            fail_input(f"{path_a} and {path_b} hold different cells")
        rows_b = [index[r[cell]] for r in rows_a]
    return header_a, rows_a, rows_b


def comb2(n):
    return n * (n - 1) / 2.0


def adjusted_rand_index(a, b):
    """ARI of two labelings (Hubert and Arabie), from the contingency table."""
    n = len(a)
    if n < 2:
        return 1.0
    pairs = sum(comb2(c) for c in Counter(zip(a, b)).values())
    rows = sum(comb2(c) for c in Counter(a).values())
    cols = sum(comb2(c) for c in Counter(b).values())
    expected = rows * cols / comb2(n)
    maximum = (rows + cols) / 2.0
    if maximum == expected:
        return 1.0
    return (pairs - expected) / (maximum - expected)


def max_abs_diff(rows_a, rows_b, idx):
    worst = 0.0
    for ra, rb in zip(rows_a, rows_b):
        for i in idx:
            d = abs(float(ra[i]) - float(rb[i]))
            if not math.isfinite(d):
                return math.inf
            worst = max(worst, d)
    return worst


def cmd_ratings(args):
    header, rows_a, rows_b = aligned(args.a, args.b)
    n = len(rows_a)
    out = {"cells": n}
    ok = n > 0
    for name in ("level", "cluster_level"):
        i = header.index(name)
        la, lb = [r[i] for r in rows_a], [r[i] for r in rows_b]
        same = sum(x == y for x, y in zip(la, lb)) / max(1, n)
        out[f"{name}_agreement"] = same
        out[f"{name}_ari"] = adjusted_rand_index(la, lb)
    out["max_abs_dp"] = max_abs_diff(rows_a, rows_b, columns(header, "p_level"))
    out["max_abs_dz"] = max_abs_diff(rows_a, rows_b, columns(header, "z"))
    if args.min_agreement is not None:
        out["min_agreement"] = args.min_agreement
        ok = ok and out["level_agreement"] >= args.min_agreement
        ok = ok and out["cluster_level_agreement"] >= args.min_agreement
    if args.min_ari is not None:
        out["min_ari"] = args.min_ari
        ok = ok and out["level_ari"] >= args.min_ari
    out["ok"] = ok
    print(json.dumps(out))
    return 0 if ok else 1


def cmd_relevance(args):
    header, rows_a, rows_b = aligned(args.a, args.b)
    n = len(rows_a)
    rel = columns(header, "relevance_")
    level, seed = header.index("level"), header.index("seed_level")
    scale = max((abs(float(r[i])) for r in rows_a for i in rel), default=0.0)
    atol = args.atol_scale * scale
    compared = passed = 0
    worst_abs = worst_excess = 0.0
    for ra, rb in zip(rows_a, rows_b):
        if ra[seed] != rb[seed]:
            continue  # relevance of another seed logit: not comparable
        compared += 1
        cell_ok = True
        for i in rel:
            a, b = float(ra[i]), float(rb[i])
            d = abs(a - b)
            if not math.isfinite(d):
                d = math.inf
            worst_abs = max(worst_abs, d)
            limit = atol + args.rtol * abs(a)
            if d > limit:
                cell_ok = False
                worst_excess = max(worst_excess, d / limit if limit > 0 else math.inf)
        passed += cell_ok
    level_agreement = sum(ra[level] == rb[level] for ra, rb in zip(rows_a, rows_b)) / max(1, n)
    share = passed / max(1, compared)
    out = {"cells": n, "compared_cells": compared, "level_agreement": level_agreement,
           "max_abs_relevance": scale, "max_abs_diff": worst_abs,
           "max_rel_diff": worst_abs / scale if scale > 0 else 0.0,
           "cells_within_tolerance": share, "worst_excess_over_tolerance": worst_excess,
           "tolerance": {"rtol": args.rtol, "atol": atol, "atol_scale": args.atol_scale,
                         "min_share": args.min_share}}
    out["ok"] = n > 0 and level_agreement >= args.min_share and share >= args.min_share
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def cmd_checkpoints(args):
    try:
        import h5py  # not in the standard library; present on the GPU machine's image
    except ImportError:
        print(json.dumps({"ok": None, "error": "h5py not available"}))
        return 3
    names, differ = [], []

    def datasets(f):
        found = {}
        f.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
        return found

    try:
        with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
            da, db = datasets(fa), datasets(fb)
            names = sorted(set(da) | set(db))
            for name in names:
                if name not in da or name not in db:
                    differ.append(f"{name} (only in {'A' if name in da else 'B'})")
                    continue
                a, b = da[name][()], db[name][()]
                same = (getattr(a, "dtype", None) == getattr(b, "dtype", None)
                        and getattr(a, "shape", None) == getattr(b, "shape", None)
                        and (a.tobytes() if hasattr(a, "tobytes") else bytes(str(a), "utf-8"))
                        == (b.tobytes() if hasattr(b, "tobytes") else bytes(str(b), "utf-8")))
                if not same:
                    differ.append(name)
    except OSError as e:
        fail_input(str(e))
    out = {"datasets": len(names), "differ": differ, "ok": not differ and bool(names)}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def cmd_metrics(args):
    try:
        with open(args.metrics) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        fail_input(f"{args.metrics}: {e}")
    ev = m.get("evaluation", {})
    out = {"ari_planted": ev.get("ari_planted"), "classifier_macro_f1": ev.get("classifier_macro_f1"),
           "reconstruction_mse": ev.get("reconstruction_mse"),
           "pretrain_steps": m.get("pretrain", {}).get("steps"),
           "classifier_steps": m.get("classifier", {}).get("steps")}
    print(json.dumps(out))
    return 0


def read_lines(path):
    out = []
    try:
        with open(path) as f:
            for text in f:
                text = text.strip()
                if text.startswith("{"):
                    try:
                        out.append(json.loads(text))
                    except ValueError:
                        pass
    except OSError:
        pass
    return [o for o in out if o.get("bench") == "gpu"]


def cmd_bench(args):
    ours, peer = read_lines(args.ours), read_lines(args.peer)
    device = next((o for o in ours if o.get("workload") == "device" and "error" not in o), {})
    table, errors = [], []
    for o in ours + peer:
        if "error" in o:
            errors.append(f"{o.get('impl')} {o.get('workload', '')}: {o['error']}")
    for workload in ("train_step", "rating", "lrp"):
        mine = next((o for o in ours if o.get("workload") == workload and "ms" in o), None)
        row = {"workload": workload, "rows": mine["rows"] if mine else None,
               "resilinet_ms": mine["ms"] if mine else None,
               "resilinet_gflops": mine.get("gflops") if mine else None,
               "resilinet_gbps": mine.get("gbps") if mine else None,
               "check_ok": (mine.get("check", {}).get("ok") if mine else None)}
        if mine and device.get("fp32_peak_gflops"):
            row["fp32_peak_share"] = mine["gflops"] / device["fp32_peak_gflops"]
        if mine and device.get("mem_peak_gbps"):
            row["mem_peak_share"] = mine["gbps"] / device["mem_peak_gbps"]
        for impl in ("torch_eager", "torch_compile"):
            theirs = next((o for o in peer if o.get("workload") == workload and o.get("impl") == impl
                           and "ms" in o), None)
            row[f"{impl}_ms"] = theirs["ms"] if theirs else None
            row[f"ratio_{impl}"] = theirs["ms"] / mine["ms"] if theirs and mine and mine["ms"] > 0 else None
        table.append(row)
    parts = []
    for r in table:
        if r["resilinet_ms"] is None:
            continue
        ratio = lambda impl: "n/a" if r[f"ratio_{impl}"] is None else f"{r[f'ratio_{impl}']:.2f}x"
        parts.append(f"{r['workload']} {r['resilinet_ms']:.3f} ms ({ratio('torch_eager')} eager, "
                     f"{ratio('torch_compile')} compile)")
    out = {"summary": "; ".join(parts) or "no resilinet timings",
           "device": {k: device.get(k) for k in ("name", "sms", "clock_mhz", "fp32_peak_gflops",
                                                  "mem_peak_gbps")},
           "workloads": table, "errors": errors,
           "ok": all(r["resilinet_ms"] is not None and r["check_ok"] is not False for r in table)}
    if args.markdown:
        print(markdown_bench(out))
    else:
        print(json.dumps(out))
    return 0 if out["ok"] else 1


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def times(v):
    return "n/a" if v is None else f"{v:.2f}x"


def markdown_bench(out):
    d = out["device"]
    lines = [f"Device: {d.get('name') or 'n/a'}, {fmt(d.get('sms'), 'd')} SMs at {fmt(d.get('clock_mhz'), '.0f')} MHz; "
             f"FP32 peak {fmt(d.get('fp32_peak_gflops'), ',.0f')} GFLOP/s, memory peak "
             f"{fmt(d.get('mem_peak_gbps'), ',.0f')} GB/s (from the device attributes).",
             "",
             "| workload | rows | resilinet ms | GFLOP/s (% FP32 peak) | GB/s (% mem peak) | check vs CPU "
             "| torch eager ms | ratio | torch.compile ms | ratio |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in out["workloads"]:
        share = lambda v: "" if v is None else f" ({100 * v:.1f}%)"
        check = {True: "ok", False: "FAILED", None: "n/a"}[r["check_ok"]]
        lines.append(
            f"| {r['workload']} | {fmt(r['rows'], ',d')} | {fmt(r['resilinet_ms'], '.3f')} "
            f"| {fmt(r['resilinet_gflops'], ',.0f')}{share(r.get('fp32_peak_share'))} "
            f"| {fmt(r['resilinet_gbps'], ',.0f')}{share(r.get('mem_peak_share'))} | {check} "
            f"| {fmt(r['torch_eager_ms'], '.3f')} | {times(r['ratio_torch_eager'])} "
            f"| {fmt(r['torch_compile_ms'], '.3f')} | {times(r['ratio_torch_compile'])} |")
    lines.append("")
    lines.append("ratio = torch ms / resilinet ms (above 1: resilinet faster); medians of CUDA-event timings.")
    for e in out["errors"]:
        lines.append(f"- error: {e}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("ratings")
    r.add_argument("a")
    r.add_argument("b")
    r.add_argument("--min-agreement", type=float)
    r.add_argument("--min-ari", type=float)
    e = sub.add_parser("relevance")
    e.add_argument("a")
    e.add_argument("b")
    e.add_argument("--rtol", type=float, default=1e-3)
    e.add_argument("--atol-scale", type=float, default=1e-4)
    e.add_argument("--min-share", type=float, default=0.999)
    c = sub.add_parser("checkpoints")
    c.add_argument("a")
    c.add_argument("b")
    m = sub.add_parser("metrics")
    m.add_argument("metrics")
    b = sub.add_parser("bench")
    b.add_argument("ours")
    b.add_argument("peer")
    b.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    handler = {"ratings": cmd_ratings, "relevance": cmd_relevance, "checkpoints": cmd_checkpoints,
               "metrics": cmd_metrics, "bench": cmd_bench}[args.command]
    sys.exit(handler(args))


if __name__ == "__main__":
    main()
