"""Peer benchmark for LRP: the default composite (z^B on the input layer, gamma 0.25 in the middle,
epsilon 1e-6 on top) of the F -> 64 -> 32 -> 5 classifier head in PyTorch, written the standard way
(each layer: forward through the modified layer, autograd backward, relevance = input * gradient),
on the same files that bench/lrp_bench reads. Also checks that both give the same relevance.
Not a test; run through bench/run_lrp_peer.sh.

  peer_torch_lrp.py make-data --dir DIR [--rows 65536 --features 12 --seed 0]
  peer_torch_lrp.py run --dir DIR [--repeats 7 --threads 2 --chunks 4096,65536]
  peer_torch_lrp.py compare TORCH.json RESILINET.json
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

WIDTHS = (64, 32, 5)
GAMMA = 0.25
EPSILON = 1e-6


def layer_shapes(features):
    ins = (features,) + WIDTHS[:-1]
    return list(zip(ins, WIDTHS))


def make_data(args):
    # He-uniform weights (as the trainer initialises them), small biases, rows uniform in [0, 1]
    # (min-max scaled features); the flat buffer is W[out][in] then b[out] per layer, as MlpLayout.
    rng = np.random.default_rng(args.seed)
    parts = []
    for n_in, n_out in layer_shapes(args.features):
        limit = np.sqrt(6.0 / n_in)
        parts.append(rng.uniform(-limit, limit, size=(n_out, n_in)).ravel())
        parts.append(rng.uniform(-0.1, 0.1, size=n_out))
    params = np.concatenate(parts).astype(np.float32)
    x = rng.uniform(0.0, 1.0, size=(args.rows, args.features)).astype(np.float32)
    params.tofile(f"{args.dir}/params.f32")
    x.tofile(f"{args.dir}/x.f32")
    with open(f"{args.dir}/meta.json", "w") as f:
        json.dump({"rows": args.rows, "features": args.features, "widths": list(WIDTHS),
                   "low": 0.0, "high": 1.0}, f)


def load(dir_):
    with open(f"{dir_}/meta.json") as f:
        meta = json.load(f)
    params = np.fromfile(f"{dir_}/params.f32", dtype=np.float32)
    x = np.fromfile(f"{dir_}/x.f32", dtype=np.float32).reshape(meta["rows"], meta["features"])
    return meta, params, x


def unpack(params, features, torch):
    layers, offset = [], 0
    for n_in, n_out in layer_shapes(features):
        w = torch.from_numpy(params[offset:offset + n_in * n_out].reshape(n_out, n_in).copy())
        offset += n_in * n_out
        b = torch.from_numpy(params[offset:offset + n_out].copy())
        offset += n_out
        layers.append((w, b))
    return layers


def stab(torch, d, eps):
    # zennit's stabiliser: d + eps * sign(d), sign(0) = +1.
    return d + eps * ((d >= 0).to(d.dtype) * 2 - 1)


def lrp_default(torch, layers, x, low, high):
    (w0, b0), (w1, b1), (w2, b2) = layers
    with torch.no_grad():
        a1 = torch.relu(x @ w0.T + b0)
        z1 = a1 @ w1.T + b1
        a2 = torch.relu(z1)
        y = a2 @ w2.T + b2
        rows = torch.arange(y.shape[0])
        cls = y.argmax(dim=1)
        relevance = torch.zeros_like(y)
        relevance[rows, cls] = y[rows, cls]

    # Top layer, epsilon: R_in = a * W^T (R / stab(z)).
    a = a2.clone().requires_grad_(True)
    z = a @ w2.T + b2
    (z * (relevance / stab(torch, z, EPSILON)).detach()).sum().backward()
    relevance = (a * a.grad).detach()

    # Middle layer, generalised gamma. Its input is a ReLU output, so a- = 0 and only the a+ terms
    # remain; the negative-z group is skipped when no relevance reaches a negative pre-activation.
    ap = a1.clone().requires_grad_(True)
    wp, wn = w1 + GAMMA * w1.clamp(min=0), w1 + GAMMA * w1.clamp(max=0)
    bp, bn = b1 + GAMMA * b1.clamp(min=0), b1 + GAMMA * b1.clamp(max=0)
    zp = ap @ wp.T + bp
    out = zp * ((z1 > 0) * relevance / stab(torch, zp, EPSILON)).detach()
    r_neg = (z1 < 0) * relevance
    if bool(r_neg.any()):
        zn = ap @ wn.T + bn
        out = out + zn * (r_neg / stab(torch, zn, EPSILON)).detach()
    out.sum().backward()
    relevance = (ap * ap.grad).detach()

    # Input layer, z^B: R_in = x * W^T s - l * W+^T s - h * W-^T s, s = R / stab(W x - W+ l - W- h).
    xg = x.clone().requires_grad_(True)
    lg = torch.full_like(x, low).requires_grad_(True)
    hg = torch.full_like(x, high).requires_grad_(True)
    z = xg @ w0.T - lg @ w0.clamp(min=0).T - hg @ w0.clamp(max=0).T
    (z * (relevance / stab(torch, z, EPSILON)).detach()).sum().backward()
    return (xg * xg.grad + lg * lg.grad + hg * hg.grad).detach()  # the grads carry the minus signs


def run(args):
    import torch

    torch.set_num_threads(args.threads)
    meta, params, x_np = load(args.dir)
    layers = unpack(params, meta["features"], torch)
    x = torch.from_numpy(x_np)
    rows = x.shape[0]
    results, cpu = {}, {}
    relevance = None
    for chunk in [int(c) for c in args.chunks.split(",")]:
        times, cpu_times = [], []
        for repeat in range(args.repeats + 1):  # the first run is a warm-up
            start, cpu_start = time.perf_counter(), time.process_time()
            parts = [lrp_default(torch, layers, x[i:i + chunk], meta["low"], meta["high"])
                     for i in range(0, rows, chunk)]
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            if repeat:
                times.append(seconds)
                cpu_times.append(cpu_seconds)
        relevance = torch.cat(parts).numpy()
        results[chunk], cpu[chunk] = statistics.median(times), statistics.median(cpu_times)
        print(f"torch: chunk {chunk}: median {results[chunk]:.4f} s", file=sys.stderr)
    best = min(results, key=results.get)
    # Where torch spends its time: the share of self CPU time in matrix products (Debian's build
    # uses the generic reference BLAS), from one profiled run of the best chunk size.
    with torch.autograd.profiler.profile() as prof:
        for i in range(0, rows, best):
            lrp_default(torch, layers, x[i:i + best], meta["low"], meta["high"])
    self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    blas_share = sum(v for k, v in self_us.items() if k in ("aten::mm", "aten::addmm")) / max(
        1e-9, sum(self_us.values()))
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split()
                 if part.startswith("BLAS_INFO=")), "unknown")
    out = {"impl": f"PyTorch {torch.__version__}", "blas": blas, "rows": rows,
           "threads": args.threads, "repeats": args.repeats, "median_s": results[best],
           "cpu_median_s": cpu[best],
           "best_chunk": best, "median_s_by_chunk": {str(k): v for k, v in results.items()},
           "cells_per_s": rows / results[best], "blas_time_share": blas_share}
    if args.check:
        ours = np.fromfile(args.check, dtype=np.float32).reshape(relevance.shape)
        scale = max(1e-12, float(np.abs(relevance).max()))
        out["max_abs_diff"] = float(np.abs(ours - relevance).max())
        out["max_rel_diff"] = out["max_abs_diff"] / scale
    print(json.dumps(out))


def compare(args):
    with open(args.torch) as f:
        peer = json.load(f)
    with open(args.resilinet) as f:
        ours = json.load(f)
    ratio = peer["median_s"] / ours["median_s"]
    print(f"rows {ours['rows']}, threads {ours['threads']} (torch {peer['threads']}), default "
          f"composite (zbox / gamma {GAMMA} / epsilon {EPSILON:g})")
    print(f"  {peer['impl']:<16} {peer['median_s'] * 1e3:9.2f} ms  {peer['cells_per_s']:12.0f} "
          f"cells/s  (best chunk {peer['best_chunk']})")
    print(f"  {ours['impl']:<16} {ours['median_s'] * 1e3:9.2f} ms  {ours['cells_per_s']:12.0f} "
          f"cells/s")
    print(f"  ratio (resilinet / torch): {ratio:.2f}x; in process CPU time "
          f"{peer['cpu_median_s'] * 1e3:.1f} ms / {ours['cpu_median_s'] * 1e3:.1f} ms = "
          f"{peer['cpu_median_s'] / ours['cpu_median_s']:.2f}x")
    outside = peer["cpu_median_s"] * (1.0 - peer["blas_time_share"])
    print(f"  torch BLAS: {peer['blas']}, {100 * peer['blas_time_share']:.0f}% of its time in "
          f"matrix products; the rest alone ({outside * 1e3:.1f} ms CPU) is "
          f"{outside / ours['cpu_median_s']:.1f}x ours in CPU time")
    print(f"  resilinet instruction set: {ours.get('isa', '?')}; gradient x input "
          f"{ours['gradient_x_input_cells_per_s']:.0f} cells/s")
    if "max_rel_diff" in peer:
        print(f"  relevance agreement: max |diff| {peer['max_abs_diff']:.2e} "
              f"({peer['max_rel_diff']:.2e} of the largest |relevance|)")
        if peer["max_rel_diff"] > 1e-4:
            print("  MISMATCH: the two implementations disagree", file=sys.stderr)
            sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make-data")
    m.add_argument("--dir", required=True)
    m.add_argument("--rows", type=int, default=65536)
    m.add_argument("--features", type=int, default=12)
    m.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--repeats", type=int, default=7)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--chunks", default="4096,65536")
    r.add_argument("--check", help="relevance written by lrp_bench (float32, rows x features)")
    c = sub.add_parser("compare")
    c.add_argument("torch")
    c.add_argument("resilinet")
    args = p.parse_args()
    {"make-data": make_data, "run": run, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
