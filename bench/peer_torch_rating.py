#!/usr/bin/env python3
"""PyTorch peer of bench/rating_bench.cpp: loads the weights, centroids and rows that rating_bench
exports, rates them (encoder to z, Student-t soft assignment q, hard cluster level, classifier head
level) in batches on the same number of threads, and checks agreement with the C++ outputs.
Prints one JSON object. Not a test and not part of the build; bench/run_rating_peer.sh runs it."""
import argparse
import copy
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.utils.mkldnn


def load_mlp(directory, layers):
    """nn.Sequential of Linear (+ReLU) layers; a grouped layer becomes a dense Linear whose
    masked-out weights are zero (checked)."""
    modules = []
    for layer in layers:
        weight = np.load(os.path.join(directory, layer["weight"]))
        if "mask" in layer:
            mask = np.load(os.path.join(directory, layer["mask"]))
            if np.any(weight[mask == 0] != 0):
                raise SystemExit(f"{layer['weight']}: masked-out weights are not zero")
        linear = torch.nn.Linear(layer["in"], layer["out"])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(np.load(os.path.join(directory, layer["bias"]))))
        modules.append(linear)
        if layer["relu"]:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules).eval()


class Rater(torch.nn.Module):
    """z, q, hard cluster level and classifier level of a batch of scaled rows. With onednn the
    Linear layers run as oneDNN (MKL-DNN) layers on a blocked copy of the batch: Debian's torch has
    no MKL and sends dense Linear to the reference (netlib) BLAS, which is much slower."""

    def __init__(self, encoder, classifier, centroids, cluster_to_level, alpha: float,
                 use_cdist: bool, onednn: bool = False):
        super().__init__()
        self.encoder = torch.utils.mkldnn.to_mkldnn(copy.deepcopy(encoder)) if onednn else encoder
        self.classifier = (torch.utils.mkldnn.to_mkldnn(copy.deepcopy(classifier)) if onednn
                           else classifier)
        self.register_buffer("mu", centroids)
        self.register_buffer("cluster_to_level", cluster_to_level)
        self.alpha = alpha
        self.use_cdist = use_cdist
        self.onednn = onednn

    def forward(self, x):
        if self.onednn:
            x = x.to_mkldnn()
            z, logits = self.encoder(x).to_dense(), self.classifier(x).to_dense()
        else:
            z, logits = self.encoder(x), self.classifier(x)
        if self.use_cdist:
            d2 = torch.cdist(z, self.mu).square()
        else:
            d2 = (z.unsqueeze(1) - self.mu.unsqueeze(0)).square().sum(2)
        t = (1.0 + d2 / self.alpha).pow(-(self.alpha + 1.0) / 2.0)
        q = t / t.sum(1, keepdim=True)
        cluster_level = self.cluster_to_level[q.argmax(1)]
        level = logits.argmax(1) + 1
        return z, q, cluster_level, logits, level


VARIANTS = ("eager_broadcast", "eager_cdist", "traced_frozen_broadcast", "onednn_broadcast",
            "onednn_cdist")


def build_raters(directory, meta, names):
    encoder = load_mlp(directory, meta["encoder"])
    classifier = load_mlp(directory, meta["classifier"])
    mu = torch.from_numpy(np.load(os.path.join(directory, meta["centroids"])))
    to_level = torch.from_numpy(np.load(os.path.join(directory, meta["cluster_to_level"])).astype(np.int64))
    raters = {}
    for name in names:
        kind, soft_assign = name.rsplit("_", 1)
        rater = Rater(encoder, classifier, mu, to_level, float(meta["alpha"]),
                      use_cdist=soft_assign == "cdist", onednn=kind == "onednn").eval()
        if kind == "traced_frozen":
            with torch.inference_mode():
                traced = torch.jit.trace(rater, torch.rand(meta["batch"], meta["features"]),
                                         check_trace=False)
            rater = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        raters[name] = rater
    return raters


def rate_pass(rater, x, batch):
    for first in range(0, x.shape[0], batch):
        rater(x[first:first + batch])


def pass_seconds(rater, x, batch, repeats):
    """Seconds of each timed pass over all rows, after one warm-up pass."""
    with torch.inference_mode():
        rate_pass(rater, x, batch)  # warm-up (and the profiling runs of the frozen graph)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            rate_pass(rater, x, batch)
            times.append(time.perf_counter() - start)
    return times


def all_outputs(rater, x, batch):
    parts = [[] for _ in range(5)]
    with torch.inference_mode():
        for first in range(0, x.shape[0], batch):
            for store, value in zip(parts, rater(x[first:first + batch])):
                store.append(value)
    return [torch.cat(p).numpy() for p in parts]


def fp64_outputs(directory, meta, x):
    """z, q and logits in float64 numpy (only for the rows where the two sides' levels differ)."""
    def forward(layers, h):
        for layer in layers:
            w = np.load(os.path.join(directory, layer["weight"])).astype(np.float64)
            h = h @ w.T + np.load(os.path.join(directory, layer["bias"])).astype(np.float64)
            if layer["relu"]:
                h = np.maximum(h, 0)
        return h
    x = x.astype(np.float64)
    z = forward(meta["encoder"], x)
    mu = np.load(os.path.join(directory, meta["centroids"])).astype(np.float64)
    alpha = float(meta["alpha"])
    t = (1 + ((z[:, None, :] - mu[None]) ** 2).sum(2) / alpha) ** (-(alpha + 1) / 2)
    return z, t / t.sum(1, keepdims=True), forward(meta["classifier"], x)


def top_two_gap(values):
    s = np.sort(values, axis=1)
    return s[:, -1] - s[:, -2]


def check(directory, meta, x, rater, tie_gap):
    """Compares this side's outputs with the C++ ones on every row. Level mismatches are allowed
    only where the fp64 top-two gap is below tie_gap (a genuine near-tie)."""
    z, q, cluster_level, logits, level = all_outputs(rater, x, meta["batch"])
    names = meta["outputs"]
    cpp = {k: np.load(os.path.join(directory, v)) for k, v in names.items()}
    result = {
        "rows": int(x.shape[0]),
        "max_abs_dz": float(np.abs(z - cpp["z"]).max()),
        "max_abs_z": float(np.abs(cpp["z"]).max()),
        "max_abs_dq": float(np.abs(q - cpp["q"]).max()),
        "max_abs_dlogits": float(np.abs(logits - cpp["logits"]).max()),
        "cluster_level_mismatches": int((cluster_level != cpp["cluster_level"]).sum()),
        "level_mismatches": int((level != cpp["level"]).sum()),
        "cluster_level_counts": np.bincount(cpp["cluster_level"], minlength=6)[1:].tolist(),
        "level_counts": np.bincount(cpp["level"], minlength=6)[1:].tolist(),
    }
    unexplained = 0
    differ = np.nonzero((cluster_level != cpp["cluster_level"]) | (level != cpp["level"]))[0]
    if differ.size:
        _, q64, logits64 = fp64_outputs(directory, meta, x[differ].numpy())
        gap = np.minimum(np.where(cluster_level[differ] != cpp["cluster_level"][differ],
                                  top_two_gap(q64), np.inf),
                         np.where(level[differ] != cpp["level"][differ],
                                  top_two_gap(logits64), np.inf))
        unexplained = int((gap >= tie_gap).sum())
    result["mismatches_not_near_ties"] = unexplained
    result["ok"] = bool(result["max_abs_dz"] <= 1e-4 * max(1.0, result["max_abs_z"])
                        and result["max_abs_dq"] <= 1e-5 and result["max_abs_dlogits"] <= 1e-4
                        and unexplained == 0)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, help="folder written by rating_bench --export")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; 0: no timing")
    parser.add_argument("--rows", type=int, default=0, help="time only the first ROWS rows (0: all)")
    parser.add_argument("--check", action="store_true", help="compare with the C++ outputs")
    parser.add_argument("--tie-gap", type=float, default=1e-5)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of " + ", ".join(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # Debian's torch starts with 1 thread here

    meta = json.load(open(os.path.join(args.dir, "meta.json")))
    x = torch.from_numpy(np.load(os.path.join(args.dir, meta["x"])))
    names = args.variants.split(",")
    if not names or any(n not in VARIANTS for n in names):
        raise SystemExit(f"--variants: choose from {', '.join(VARIANTS)}")
    raters = build_raters(args.dir, meta, names)
    timed = x[:args.rows] if args.rows > 0 else x
    out = {"impl": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
           "rows": int(timed.shape[0]), "batch": meta["batch"], "repeats": args.repeats}
    if args.repeats > 0:
        passes = {name: pass_seconds(r, timed, meta["batch"], args.repeats)
                  for name, r in raters.items()}
        seconds = {name: statistics.median(p) for name, p in passes.items()}
        best = min(seconds, key=seconds.get)  # the fastest formulation is the peer
        out.update({"best_variant": best, "median_s": seconds[best], "pass_s": passes[best],
                    "cells_per_s": timed.shape[0] / seconds[best],
                    "best_pass_cells_per_s": timed.shape[0] / min(passes[best]),
                    "variants_cells_per_s": {k: timed.shape[0] / v for k, v in seconds.items()}})
    if args.check:
        out["check"] = {name: check(args.dir, meta, x, raters[name], args.tie_gap)
                        for name in names}
    print(json.dumps(out))
    if args.check and not all(c["ok"] for c in out["check"].values()):
        print("peer_torch_rating.py: outputs disagree with rating_bench", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
