"""Reference for the quality table: k-means (K = 5, k-means++ with restarts, Lloyd) on the min-max
scaled, median-imputed raw features of a shard set, scored by the adjusted Rand index against
/planted_level. numpy and h5py only. Not a test; bench/run_quality_table.sh runs it.

  kmeans_minmax_ari.py 'DIR/*.h5' --seeds 0 1 2 3 4 [--clusters 5 --restarts 8]
"""
import argparse
import glob
import json

import h5py
import numpy as np


def adjusted_rand_index(a, b):
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    pairs = lambda x: (x * (x - 1) / 2).sum()
    cells, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([len(a)]))
    maximum = (rows + cols) / 2
    return 1.0 if maximum == expected else (cells - expected) / (maximum - expected)


def squared_distances(x, c):
    return (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]


def kmeans(x, k, restarts, seed, iterations=300):
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        centres = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d = np.maximum(squared_distances(x, np.array(centres)).min(1), 0)
            centres.append(x[rng.choice(len(x), p=d / d.sum())])
        c = np.array(centres)
        for _ in range(iterations):
            labels = squared_distances(x, c).argmin(1)
            moved = np.array([x[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)])
            if np.allclose(moved, c):
                break
            c = moved
        d = squared_distances(x, c)
        labels, inertia = d.argmin(1), d.min(1).sum()
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    return best[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--clusters", type=int, default=5)
    p.add_argument("--restarts", type=int, default=8)
    args = p.parse_args()
    xs, planted = [], []
    for path in sorted(glob.glob(args.data)):
        with h5py.File(path, "r") as f:
            xs.append(f["features"][:].astype(np.float64))
            planted.append(f["planted_level"][:])
    x, planted = np.concatenate(xs), np.concatenate(planted)
    x = np.where(np.isnan(x), np.nanmedian(x, 0), x)
    span = x.max(0) - x.min(0)
    x = (x - x.min(0)) / np.where(span > 0, span, 1)
    print(json.dumps({str(s): adjusted_rand_index(kmeans(x, args.clusters, args.restarts, s), planted)
                      for s in args.seeds}))


if __name__ == "__main__":
    main()
