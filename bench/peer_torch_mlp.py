#!/usr/bin/env python3
"""PyTorch peer of bench/mlp_bench.cpp: the same autoencoder trained with Adam on a batch of 1024,
and the classifier head's inference, on the same number of threads. Prints one JSON object.
Not a test and not part of the build; bench/run_mlp_peer.sh runs it beside the C++ benchmark."""
import argparse
import json
import statistics
import time

import torch


def grouped_mask(features=12, hidden=48, groups=3):
    """Block-diagonal connection mask of the encoder's first layer (three feature systems)."""
    mask = torch.zeros(hidden, features)
    per_group_in, per_group_out = features // groups, hidden // groups
    for g in range(groups):
        mask[g * per_group_out:(g + 1) * per_group_out, g * per_group_in:(g + 1) * per_group_in] = 1
    return mask


def decoder_and_fusion():
    return torch.nn.Sequential(
        torch.nn.Linear(48, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8),   # encoder to latent
        torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 48), torch.nn.ReLU(),
        torch.nn.Linear(48, 12))                                            # decoder


class MaskedAutoencoder(torch.nn.Module):
    """First layer as one Linear whose weight is multiplied by the mask in every forward pass."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(12, 48)
        self.register_buffer("mask", grouped_mask())
        self.rest = decoder_and_fusion()

    def forward(self, x):
        return self.rest(torch.relu(torch.nn.functional.linear(x, self.first.weight * self.mask,
                                                               self.first.bias)))


class SplitAutoencoder(torch.nn.Module):
    """First layer as three Linear(4, 16), one per feature system, concatenated."""

    def __init__(self):
        super().__init__()
        self.groups = torch.nn.ModuleList([torch.nn.Linear(4, 16) for _ in range(3)])
        self.rest = decoder_and_fusion()

    def forward(self, x):
        h = torch.cat([layer(x[:, 4 * g:4 * g + 4]) for g, layer in enumerate(self.groups)], dim=1)
        return self.rest(torch.relu(h))


def median_seconds(fn, warmup, repeats, inner):
    """Median over repeats of the mean time of `inner` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def train_samples_per_second(model_class, foreach, batch, repeats):
    torch.manual_seed(0)
    model = model_class()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    x = torch.rand(batch, 12)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), x)
        loss.backward()
        optimizer.step()

    return batch / median_seconds(step, warmup=30, repeats=repeats, inner=50)


def inference_cells_per_second(cells, repeats):
    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Linear(12, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32),
                               torch.nn.ReLU(), torch.nn.Linear(32, 5))
    x = torch.rand(cells, 12)
    with torch.inference_mode():
        seconds = median_seconds(lambda: head(x), warmup=5, repeats=repeats,
                                 inner=max(1, 262144 // cells))
    return cells / seconds


def matmul_flops(size, repeats):
    a, b = torch.rand(size, size), torch.rand(size, size)
    return 2.0 * size ** 3 / median_seconds(lambda: torch.mm(a, b), warmup=3, repeats=repeats,
                                            inner=5)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # Debian's torch starts with 1 thread here

    variants = {}
    for name, model_class in (("masked", MaskedAutoencoder), ("split", SplitAutoencoder)):
        for foreach in (False, True):
            key = f"{name}{'_foreach' if foreach else ''}"
            variants[key] = train_samples_per_second(model_class, foreach, args.batch, args.repeats)
    best = max(variants, key=variants.get)
    print(json.dumps({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_samples_per_second": variants[best],  # the fastest formulation is the peer
        "train_best_variant": best,
        "train_variants": variants,
        "inference_cells_per_second": {
            str(cells): inference_cells_per_second(cells, args.repeats) for cells in (1024, 65536)},
        "matmul_1024_flops": matmul_flops(1024, args.repeats),
    }))


if __name__ == "__main__":
    main()
