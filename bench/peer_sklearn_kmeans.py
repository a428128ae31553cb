"""Peer benchmark for k-means: scikit-learn KMeans (Lloyd, k-means++) on the same .npy file that
bench/kmeans_bench reads, and the side-by-side table. Not a test; run through
bench/run_kmeans_peer.sh, which makes the data, runs both, and compares.

  peer_sklearn_kmeans.py make-data --out X.npy [--rows 1000000 --dims 8 --centers 5 --seed 0]
  peer_sklearn_kmeans.py run --data X.npy [--clusters 5 --n-init 4 --repeats 5 --threads 2]
  peer_sklearn_kmeans.py compare --data X.npy SKLEARN.json RESILINET.json
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np


def make_data(args):
    # Gaussian blobs: centres uniform in [-5, 5]^dims, noise sigma 1.5 (they overlap a little).
    rng = np.random.default_rng(args.seed)
    centres = rng.uniform(-5.0, 5.0, size=(args.centers, args.dims))
    which = np.arange(args.rows) % args.centers
    x = centres[which] + rng.normal(0.0, 1.5, size=(args.rows, args.dims))
    np.save(args.out, np.ascontiguousarray(x, dtype=np.float32))


def run(args):
    import sklearn
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = np.load(args.data)
    assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    times, model = [], None
    with threadpool_limits(limits=args.threads):
        for repeat in range(args.repeats + 1):  # the first run is a warm-up
            model = KMeans(n_clusters=args.clusters, init="k-means++", n_init=args.n_init,
                           max_iter=args.max_iter, tol=args.tol, algorithm="lloyd",
                           random_state=args.seed)
            start = time.perf_counter()
            model.fit(x)
            seconds = time.perf_counter() - start
            if repeat:
                times.append(seconds)
            print(f"sklearn: {'run' if repeat else 'warm-up'} {seconds:.4f} s inertia "
                  f"{model.inertia_:.6e} iterations {model.n_iter_}", file=sys.stderr)
    print(json.dumps({
        "impl": f"scikit-learn {sklearn.__version__}", "rows": x.shape[0], "dims": x.shape[1],
        "clusters": args.clusters, "n_init": args.n_init, "threads": args.threads,
        "repeats": args.repeats, "median_s": statistics.median(times), "min_s": min(times),
        "inertia": float(model.inertia_), "iterations": int(model.n_iter_),
        "centroids": model.cluster_centers_.ravel().tolist()}))


def inertia64(x, centroids):
    """Inertia of the centroids on x, recomputed in float64 (both sides report a float32-based sum)."""
    c = np.asarray(centroids, dtype=np.float64).reshape(-1, x.shape[1])
    total = 0.0
    for start in range(0, x.shape[0], 65536):
        block = x[start:start + 65536].astype(np.float64)
        d2 = ((block[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        total += d2.min(axis=1).sum()
    return total


def compare(args):
    with open(args.sklearn) as f:
        peer = json.load(f)
    with open(args.resilinet) as f:
        ours = json.load(f)
    x = np.load(args.data)
    for r in (peer, ours):
        r["inertia64"] = inertia64(x, r["centroids"])
    gap = (ours["inertia64"] - peer["inertia64"]) / peer["inertia64"]
    ratio = peer["median_s"] / ours["median_s"]
    print(f"{'':<22}{'median s':>10}{'min s':>10}{'inertia (own)':>16}{'inertia (fp64)':>16}{'iters':>7}")
    for name, r in ((peer["impl"], peer), ("resilinet cpu::kmeans", ours)):
        print(f"{name:<22}{r['median_s']:>10.3f}{r['min_s']:>10.3f}{r['inertia']:>16.7e}"
              f"{r['inertia64']:>16.7e}{r['iterations']:>7}")
    print(f"resilinet one assignment pass: {ours['assign_pass_median_s'] * 1e3:.2f} ms")
    print(f"fp64 inertia gap (resilinet - sklearn) / sklearn: {gap:+.2e}  "
          f"({'within' if abs(gap) <= 0.005 else 'OUTSIDE'} 0.5%)")
    print(f"speed-up (sklearn median / resilinet median): {ratio:.2f}x")
    return 0 if abs(gap) <= 0.005 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-data")
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--dims", type=int, default=8)
    p.add_argument("--centers", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("run")
    p.add_argument("--data", required=True)
    p.add_argument("--clusters", type=int, default=5)
    p.add_argument("--n-init", type=int, default=4)
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("compare")
    p.add_argument("--data", required=True)
    p.add_argument("sklearn")
    p.add_argument("resilinet")
    args = parser.parse_args()
    if args.command == "make-data":
        make_data(args)
    elif args.command == "run":
        run(args)
    else:
        sys.exit(compare(args))


if __name__ == "__main__":
    main()
