"""Shards written by h5py, following docs/FORMAT.md, must be read by `resilinet inspect`: the
printed rows, regions and per-feature min/max/missing are checked against numpy. The other
direction (h5py reading ShardWriter output) is ShardH5py.* in tests/shard_test.cpp."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ.get("RESILINET_BIN", "resilinet")

NAMES = ["building_age", "hospitals", "internet_speed"]
SYSTEMS = ["facility", "facility", "infrastructure"]
COMPONENTS = ["robustness", "redundancy", "resourcefulness"]
UNITS = ["years", "count", "Mbit/s"]
DIRECTIONS = [-1, 1, 1]
REGIONS = ["houston", "dallas", "austin"]


def write_shard(path, rows, fixed_length_strings=False, feature_dtype=np.float32,
                region_names=REGIONS):
    rng = np.random.default_rng(7)
    features = rng.normal(50.0, 20.0, size=(rows, len(NAMES))).astype(np.float32)
    features[::9, 2] = np.nan  # missing internet speed on every 9th cell
    region = (np.arange(rows) % 5 == 0).astype(np.uint32)  # houston 4 of 5, dallas 1 of 5
    if fixed_length_strings:
        strings = lambda v: np.array(v, dtype="S")  # noqa: E731
    else:
        strings = lambda v: np.array(v, dtype=h5py.string_dtype())  # noqa: E731
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "resilinet-shard"
        f.attrs["format_version"] = np.int32(1)
        f.attrs["feature_names"] = strings(NAMES)
        f.attrs["feature_system"] = strings(SYSTEMS)
        f.attrs["feature_component"] = strings(COMPONENTS)
        f.attrs["feature_unit"] = strings(UNITS)
        f.attrs["feature_direction"] = np.array(DIRECTIONS, dtype=np.int8)
        f.attrs["region_names"] = strings(region_names)
        f.create_dataset("features", data=features.astype(feature_dtype),
                         maxshape=(None, len(NAMES)), chunks=(128, len(NAMES)),
                         compression="gzip", shuffle=True)
        f.create_dataset("cell_id", data=np.arange(rows, dtype=np.int64) + 10**12)
        f.create_dataset("lonlat", data=np.tile([-95.4, 29.8], (rows, 1)).astype(np.float64))
        f.create_dataset("region", data=region)
        f.create_dataset("hazard", data=np.linspace(0, 1, rows, dtype=np.float32))
    return features, region


def inspect(path):
    run = subprocess.run([BIN, "inspect", path], capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def stats_rows(output):
    """name -> (min, median, max, missing) from the statistics table."""
    table = output.split("features (median", 1)[1].splitlines()[2:]
    out = {}
    for line in table:
        cells = line.split()
        if len(cells) == 5:
            out[cells[0]] = (float(cells[1]), float(cells[2]), float(cells[3]), int(cells[4]))
    return out


class InspectReadsH5pyShards(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def check_good(self, fixed_length_strings):
        path = os.path.join(self.dir, "shard.h5")
        features, region = write_shard(path, 1000, fixed_length_strings)
        rc, out = inspect(path)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^rows: 1000$")
        self.assertRegex(out, r"(?m)^shards: 1$")
        self.assertRegex(out, r"(?m)^\s+houston\s+800$")
        self.assertRegex(out, r"(?m)^\s+dallas\s+200$")
        self.assertRegex(out, r"(?m)^\s+austin\s+0$")
        self.assertRegex(out, r"(?m)^\s+2\s+internet_speed\s+infrastructure\s+resourcefulness"
                              r"\s+\+1\s+Mbit/s$")
        self.assertRegex(out, r"(?m)^hazard: yes$")
        self.assertRegex(out, r"(?m)^planted_level: no$")
        stats = stats_rows(out)
        for j, name in enumerate(NAMES):
            column = features[:, j].astype(np.float64)
            present = column[~np.isnan(column)]
            lo, median, hi, missing = stats[name]
            # Printed with 7 significant digits.
            self.assertAlmostEqual(lo, present.min(), delta=1e-5 * abs(present.min()), msg=name)
            self.assertAlmostEqual(hi, present.max(), delta=1e-5 * abs(present.max()), msg=name)
            self.assertAlmostEqual(median, np.median(present), delta=1e-5 * abs(np.median(present)),
                                   msg=name)
            self.assertEqual(missing, int(np.isnan(column).sum()), msg=name)
        self.assertEqual(stats["internet_speed"][3], 112)  # rows 0, 9, ..., 999

    def test_variable_length_strings(self):
        self.check_good(fixed_length_strings=False)

    def test_fixed_length_strings(self):
        self.check_good(fixed_length_strings=True)

    def test_float64_features_are_rejected(self):
        path = os.path.join(self.dir, "wide.h5")
        write_shard(path, 50, feature_dtype=np.float64)
        rc, out = inspect(path)
        self.assertEqual(rc, 2, out)
        self.assertEqual(out.count("\n"), 1, out)
        self.assertIn(path + ": /features: expected float32 [N, 3], found float64 [50, 3]", out)

    def test_empty_shard_with_no_region_names(self):
        path = os.path.join(self.dir, "empty.h5")
        write_shard(path, 0, region_names=[])
        rc, out = inspect(path)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^rows: 0$")
        self.assertRegex(out, r"(?m)^regions: 0$")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
