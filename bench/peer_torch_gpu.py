#!/usr/bin/env python3
"""PyTorch peer of bench/gpu_bench.cpp: the same three workloads with the default networks, on the
GPU, eager and under torch.compile (mode default), timed with CUDA events (warm-up, then the median
of repeats). Prints one JSON line per workload and variant in gpu_bench's shape, so that
scripts/gpu-check.sh (through scripts/gpu_compare.py bench) prints the ratios.

  (i)   train_step: autoencoder 12 -> 3 x 64 (grouped by feature system: a dense Linear whose weight
        is multiplied by the block mask) -> 128 -> 8 -> 128 -> 192 -> 12, masked mse, Adam (fused),
        batch 65,536
  (ii)  rating: scale (missing -> median, clamp to [-0.2, 1.2]), encoder to z, decoder to the
        reconstruction, Student-t soft assignment to 5 centroids, classifier head 12 -> 64 -> 32 -> 5,
        over 10^6 rows: the op sequence gpu_bench times
  (iii) lrp: the default composite (zbox with the scaled bounds [-0.2, 1.2] on the input layer,
        gamma 0.25 in the middle, epsilon 1e-6 on top) of the classifier head, seeded with the
        arg-max logit, over 10^6 rows, in matrix form (no autograd)

fp32 throughout: TF32 is switched off for matrix products. Not a test and not part of the build.
  peer_torch_gpu.py [--device cuda] [--train-rows 65536] [--rows 1000000] [--repeats 20]
                    [--no-compile] [--only train_step,rating,lrp]
"""
import argparse
import json
import statistics
import sys
import time

import torch

FEATURES = 12
SYSTEM_SIZES = (4, 5, 3)  # facility, infrastructure, society (datasets/synth.cpp default_schema)
GROUP_WIDTH, HIDDEN, LATENT = 64, 128, 8
HEAD = (64, 32)
CLUSTERS = 5
ALPHA = 1.0
LOW, HIGH = -0.2, 1.2  # the robust scaler's clipped range: zbox bounds and scale clamp
GAMMA, EPSILON, STABILIZER = 0.25, 1e-6, 1e-6
MISSING_SHARE = 0.1


def grouped_mask():
    """[3*64 x 12] block mask: system g's features connect to hidden units [64 g, 64 (g+1))."""
    mask = torch.zeros(GROUP_WIDTH * len(SYSTEM_SIZES), FEATURES)
    first = 0
    for g, size in enumerate(SYSTEM_SIZES):
        mask[g * GROUP_WIDTH:(g + 1) * GROUP_WIDTH, first:first + size] = 1
        first += size
    return mask


class Autoencoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        grouped = GROUP_WIDTH * len(SYSTEM_SIZES)
        self.first = torch.nn.Linear(FEATURES, grouped)
        self.register_buffer("mask", grouped_mask())
        with torch.no_grad():
            self.first.weight.mul_(self.mask)
        self.encoder_rest = torch.nn.Sequential(
            torch.nn.ReLU(), torch.nn.Linear(grouped, HIDDEN), torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, LATENT))
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(LATENT, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, grouped),
            torch.nn.ReLU(), torch.nn.Linear(grouped, FEATURES))

    def encode(self, x):
        h = torch.nn.functional.linear(x, self.first.weight * self.mask, self.first.bias)
        return self.encoder_rest(h)

    def forward(self, x):
        return self.decoder(self.encode(x))


def make_head():
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HEAD[0]), torch.nn.ReLU(), torch.nn.Linear(HEAD[0], HEAD[1]),
        torch.nn.ReLU(), torch.nn.Linear(HEAD[1], CLUSTERS))


def raw_rows(rows, device, generator):
    x = torch.rand(rows, FEATURES, generator=generator, device="cpu")
    missing = torch.rand(rows, FEATURES, generator=generator, device="cpu") < MISSING_SHARE
    return x.masked_fill(missing, float("nan")).to(device)


def scale(raw):
    """As kernels::cuda::scale_rows with median 0.5, offset 0, scale 1."""
    return torch.nan_to_num(raw, nan=0.5).clamp(LOW, HIGH)


# ---- Work counts, the same rules as gpu_bench ----

def linear_macs(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


GROUPED = GROUP_WIDTH * len(SYSTEM_SIZES)
AE_SIZES = (FEATURES, GROUPED, HIDDEN, LATENT, HIDDEN, GROUPED, FEATURES)
ENC_SIZES, DEC_SIZES = AE_SIZES[:4], AE_SIZES[3:]
HEAD_SIZES = (FEATURES,) + HEAD + (CLUSTERS,)
LRP_TERMS = (3, 4, 1)  # zbox, gamma, epsilon: terms of each rule's hooks (kernels/lrp_rules.cpp)

WORK = {
    "train_step": (3 * 2 * linear_macs(AE_SIZES),
                   4 * 2 * FEATURES + FEATURES,  # + parameters, gradients, moments per step (below)
                   "3 x 2 x in x out per layer per row (forward + backward), grouped layer as dense"),
    "rating": (2 * (linear_macs(ENC_SIZES) + linear_macs(DEC_SIZES) + linear_macs(HEAD_SIZES))
               + 3 * CLUSTERS * FEATURES,
               4 * (2 * FEATURES + FEATURES + LATENT + LATENT + FEATURES + FEATURES + CLUSTERS
                    + FEATURES + CLUSTERS),
               "2 x in x out per layer per row (encoder to z, decoder, head) + 3 x K x F (q)"),
    "lrp": (2 * linear_macs(HEAD_SIZES) + sum(
        4 * t * a * b for t, a, b in zip(LRP_TERMS, HEAD_SIZES[:-1], HEAD_SIZES[1:])),
        4 * 2 * FEATURES,
        "2 x in x out per layer (forward) + 4 x in x out x terms of the rule per layer"),
}


def param_count(module):
    return sum(p.numel() for p in module.parameters())


# ---- Timing ----

def cuda_median_ms(fn, warmup, repeats, device):
    """Median and minimum ms of `repeats` calls each between two CUDA events, after `warmup`."""
    for _ in range(warmup):
        fn()
    if device.type != "cuda":
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times), min(times)
    torch.cuda.synchronize(device)
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times), min(times)


def time_first_and_median(fn, args, device):
    """Seconds of the first call (torch.compile compiles there), then cuda_median_ms."""
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    first_s = time.perf_counter() - start
    median_ms, min_ms = cuda_median_ms(fn, args.warmup, args.repeats, device)
    return first_s, median_ms, min_ms


def line(impl, workload, rows, median_ms, min_ms, repeats, **extra):
    flops, bytes_per_row, rule = WORK[workload]
    seconds = median_ms * 1e-3
    out = {"bench": "gpu", "impl": impl, "workload": workload, "rows": rows, "repeats": repeats,
           "ms": median_ms, "ms_min": min_ms, "rows_per_s": rows / seconds,
           "gflops": flops * rows / seconds * 1e-9, "gbps": bytes_per_row * rows / seconds * 1e-9,
           "flops_per_row": flops, "bytes_per_row": bytes_per_row, "flop_rule": rule}
    out.update(extra)
    return out


def emit(obj):
    print(json.dumps(obj), flush=True)


# ---- (i) Training step ----

def train_step_fn(model, optimizer, x, observed, compiled):
    outputs = x.shape[0] * x.shape[1]

    def loss_of(batch, seen):
        diff = model(batch) - batch
        return (diff * diff * seen).sum() / outputs

    loss_fn = torch.compile(loss_of) if compiled else loss_of

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(x, observed).backward()  # the first layer's gradient is zero off the mask
        optimizer.step()

    return step


def bench_train(args, device, compiled, generator):
    torch.manual_seed(0)
    model = Autoencoder().to(device)
    fused = device.type == "cuda"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    raw = raw_rows(args.train_rows, device, generator)
    observed = (~torch.isnan(raw)).to(torch.float32)
    x = scale(raw)
    step = train_step_fn(model, optimizer, x, observed, compiled)
    first_s, median_ms, min_ms = time_first_and_median(step, args, device)
    p = param_count(model)
    out = line(impl_name(compiled), "train_step", args.train_rows, median_ms, min_ms, args.repeats,
               params=p, first_call_s=first_s, optimizer="Adam(fused)" if fused else "Adam")
    out["bytes_per_row"] += 9 * 4 * p / args.train_rows
    out["gbps"] = out["bytes_per_row"] * out["rows_per_s"] * 1e-9
    return out


# ---- (ii) Rating ----

def rating_fn(model, head, centroids):
    def rate(raw):
        scaled = scale(raw)
        z = model.encode(scaled)
        recon = model.decoder(z)
        d2 = (recon.unsqueeze(1) - centroids.unsqueeze(0)).square().sum(2)
        t = (1.0 + d2 / ALPHA).pow(-(ALPHA + 1.0) / 2.0)
        q = t / t.sum(1, keepdim=True)
        return z, recon, q, head(scaled)
    return rate


def bench_rating(args, device, compiled, generator):
    torch.manual_seed(1)
    model, head = Autoencoder().to(device).eval(), make_head().to(device).eval()
    centroids = torch.rand(CLUSTERS, FEATURES, generator=generator).to(device)
    raw = raw_rows(args.rows, device, generator)
    rate = rating_fn(model, head, centroids)
    if compiled:
        rate = torch.compile(rate)

    def run():
        with torch.inference_mode():
            rate(raw)

    first_s, median_ms, min_ms = time_first_and_median(run, args, device)
    return line(impl_name(compiled), "rating", args.rows, median_ms, min_ms, args.repeats,
                first_call_s=first_s)


# ---- (iii) LRP, default composite ----

def stab(d, eps):
    """zennit's stabiliser: d + eps * sign(d) with sign(0) = +1."""
    return d + eps * torch.where(d >= 0, 1.0, -1.0)


def lrp_fn(head):
    (w0, b0), (w1, b1), (w2, b2) = [(m.weight.detach(), m.bias.detach())
                                    for m in head if isinstance(m, torch.nn.Linear)]
    w0p, w0n = w0.clamp(min=0), w0.clamp(max=0)
    # zbox: the bounds are constant rows, so W+ low + W- high is one vector; the biases cancel
    # (b - b+ - b- = 0), as in kernels/lrp_rules.cpp.
    low = torch.full((FEATURES,), LOW, device=w0.device)
    high = torch.full((FEATURES,), HIGH, device=w0.device)
    bounds = w0p @ low + w0n @ high
    w1p, b1p = w1 + GAMMA * w1.clamp(min=0), b1 + GAMMA * b1.clamp(min=0)

    def lrp(x):
        z1 = x @ w0.T + b0
        a1 = torch.relu(z1)
        z2 = a1 @ w1.T + b1
        a2 = torch.relu(z2)
        y = a2 @ w2.T + b2
        seed = torch.nn.functional.one_hot(y.argmax(1), CLUSTERS).to(y.dtype) * y
        # top, epsilon: R2 = a2 * W2^T (R / stab(y))
        r2 = a2 * ((seed / stab(y, EPSILON)) @ w2)
        # middle, gamma: a1 >= 0 (ReLU output) leaves only the a+ terms, and R2 = a2 * (...) is 0
        # wherever z2 <= 0, so the negative-z group (gate [z2 < 0]) adds exactly 0 and is skipped.
        zp = a1 @ w1p.T + b1p
        r1 = a1 * (((z2 > 0).to(x.dtype) * r2 / stab(zp, STABILIZER)) @ w1p)
        # input, zbox: R0 = x * W^T s - low * W+^T s - high * W-^T s, s = R1 / stab(W x - W+ l - W- h)
        s = r1 / stab(x @ w0.T - bounds, STABILIZER)
        return x * (s @ w0) - low * (s @ w0p) - high * (s @ w0n)
    return lrp


def bench_lrp(args, device, compiled, generator):
    torch.manual_seed(2)
    head = make_head().to(device).eval()
    x = scale(raw_rows(args.rows, device, generator))
    lrp = lrp_fn(head)
    if compiled:
        lrp = torch.compile(lrp)

    def run():
        with torch.inference_mode():
            lrp(x)

    first_s, median_ms, min_ms = time_first_and_median(run, args, device)
    return line(impl_name(compiled), "lrp", args.rows, median_ms, min_ms, args.repeats,
                first_call_s=first_s, composite="zbox [-0.2, 1.2] / gamma 0.25 / epsilon 1e-6")


def impl_name(compiled):
    return "torch_compile" if compiled else "torch_eager"


BENCHES = {"train_step": bench_train, "rating": bench_rating, "lrp": bench_lrp}


def device_line(device):
    out = {"bench": "gpu", "impl": "torch", "workload": "device", "torch_version": torch.__version__,
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update({"name": props.name, "sms": props.multi_processor_count,
                    "memory_gib": props.total_memory / 2 ** 30, "cuda": torch.version.cuda})
    else:
        out["name"] = "cpu"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--train-rows", type=int, default=65536)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of rating and lrp")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated workloads")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    if any(n not in BENCHES for n in names):
        parser.error(f"--only: choose from {', '.join(BENCHES)}")

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        emit({"bench": "gpu", "impl": "torch", "workload": "device", "error": "torch sees no CUDA device"})
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32, as resilinet
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    emit(device_line(device))
    failures = 0
    for compiled in ([False] if args.no_compile else [False, True]):
        for name in names:
            generator = torch.Generator().manual_seed(7)
            try:
                emit(BENCHES[name](args, device, compiled, generator))
            except Exception as e:  # a failed compile is reported, not fatal
                failures += not compiled
                emit({"bench": "gpu", "impl": impl_name(compiled), "workload": name,
                      "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]})
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
