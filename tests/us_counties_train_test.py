"""End to end on all US counties (RESILINET_SHARED_DATA, default ../shared/data next to the source
tree): build the county table from the public tables, ingest it, train the default model with a
small budget twice with the same seed, and rate. Every county is rated once, all five levels are
used (none under 3% of the counties), the level order follows the direction-signed feature means,
and the two runs are identical. Skipped when the data folder is absent."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("RESILINET_SOURCE_DIR", os.path.dirname(HERE))
BUILDER = os.path.join(SOURCE_DIR, "datasets", "us_counties", "build_us_counties.py")
BIN = os.environ.get("RESILINET_BIN", os.path.join(SOURCE_DIR, "build", "resilinet"))
DATA = os.environ.get("RESILINET_SHARED_DATA", os.path.join(SOURCE_DIR, "..", "shared", "data"))
NEEDED = ["SVI2020_US_COUNTY.csv", "HIFLD_Hospitals_2022.csv", "NRI_Counties_Nov2021_EAL_SOVI.csv",
          "broadband_data_2020October.csv", "2019_Gaz_counties_national_noheader.csv"]


def data_present():
    return all(os.path.exists(os.path.join(DATA, name)) for name in NEEDED) and os.path.exists(BIN)


if not data_present():
    print(f"us_counties_train_test: skipped, the public tables are not in {DATA} (set RESILINET_SHARED_DATA)"
          f" or {BIN} is missing", file=sys.stderr)


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


@unittest.skipUnless(data_present(), f"public tables not found in {DATA}")
class CountiesEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.tmp.name
        table = os.path.join(root, "table")
        shards = os.path.join(root, "shards")
        run(sys.executable, BUILDER, "--data-dir", DATA, "--out", table)
        run(BIN, "ingest", "--csv", os.path.join(table, "us_counties.csv"),
            "--schema", os.path.join(table, "us_counties_schema.yaml"), "--out", shards)
        with open(os.path.join(table, "us_counties.csv"), newline="", encoding="utf-8") as f:
            cls.fips = sorted(int(r["FIPS"]) for r in csv.DictReader(f))
        cls.glob = os.path.join(shards, "*.h5")
        cls.ratings = []
        cls.metrics = []
        for name in ("a", "b"):
            run_dir = os.path.join(root, "run-" + name)
            config = os.path.join(root, name + ".yaml")
            with open(config, "w") as f:  # the default model with a small budget
                f.write(f"data: '{cls.glob}'\nrun: {{dir: {run_dir}, seed: 3, threads: 2}}\n"
                        "pretrain: {epochs: 20, min_steps: 600}\nclassifier: {epochs: 20, min_steps: 600}\n")
            run(BIN, "train", "--quiet", "--config", config)
            out = os.path.join(root, "rate-" + name)
            run(BIN, "rate", "--quiet", "--checkpoint", os.path.join(run_dir, "checkpoint.h5"),
                "--data", cls.glob, "--out", out)
            with h5py.File(os.path.join(out, "ratings.h5"), "r") as f:
                cls.ratings.append({k: f[k][:] for k in ("cell_id", "level", "cluster_level", "q")})
            with open(os.path.join(run_dir, "metrics.json")) as f:
                cls.metrics.append(json.load(f))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_county_is_rated_once(self):
        ids = self.ratings[0]["cell_id"]
        self.assertEqual(len(ids), len(self.fips))
        self.assertEqual(sorted(ids.tolist()), self.fips)

    def test_all_five_levels_are_used(self):
        for key in ("level", "cluster_level"):
            counts = np.bincount(self.ratings[0][key], minlength=6)[1:]
            self.assertTrue((counts >= 0.03 * len(self.fips)).all(), f"{key}: {counts}")

    def test_level_order_follows_the_signed_feature_means(self):
        evaluation = self.metrics[0]["evaluation"]
        self.assertTrue(evaluation["level_order_consistent"])
        scores = evaluation["rated_level_scores"]
        self.assertEqual(scores, sorted(scores))

    def test_the_run_is_deterministic(self):
        a, b = self.ratings
        for key in a:
            self.assertTrue(np.array_equal(a[key], b[key]), key)
        self.assertEqual(self.metrics[0]["evaluation"], self.metrics[1]["evaluation"])

    def test_baseline_and_external_rating_are_reported(self):
        evaluation = self.metrics[0]["evaluation"]
        base = evaluation["baseline_kmeans"]
        self.assertEqual(sum(base["level_cells"]), len(self.fips))
        self.assertIn("ari_external", evaluation)
        self.assertIn("ari_external", base)
        self.assertGreater(evaluation["external_cells"], 3000)


if __name__ == "__main__":
    unittest.main()
