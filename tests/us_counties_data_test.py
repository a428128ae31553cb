"""datasets/us_counties/build_us_counties.py on the real public tables (RESILINET_SHARED_DATA,
default ../shared/data next to the source tree): all counties of the 50 states and DC, each once,
with coordinates; hospital counts recounted here from the HIFLD file; `resilinet ingest` accepts
the output. Skipped when the data folder is absent."""
import csv
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("RESILINET_SOURCE_DIR", os.path.dirname(HERE))
BUILDER = os.path.join(SOURCE_DIR, "datasets", "us_counties", "build_us_counties.py")
BIN = os.environ.get("RESILINET_BIN", os.path.join(SOURCE_DIR, "build", "resilinet"))
DATA = os.environ.get("RESILINET_SHARED_DATA", os.path.join(SOURCE_DIR, "..", "shared", "data"))

# SVI 2020 has 3,143 counties of the 50 states and DC (2020 geography: Alaska's 02063 and 02066,
# whose coordinates come from the 2023 Gazetteer; the 2019 one still has 02261).
EXPECTED_COUNTIES = 3143
NEEDED = ["SVI2020_US_COUNTY.csv", "HIFLD_Hospitals_2022.csv", "NRI_Counties_Nov2021_EAL_SOVI.csv",
          "broadband_data_2020October.csv", "2019_Gaz_counties_national_noheader.csv",
          "2023_Gaz_counties_national.txt"]


def data_present():
    return all(os.path.exists(os.path.join(DATA, name)) for name in NEEDED)


if not data_present():
    print(f"us_counties_data_test: skipped, the public tables are not in {DATA} "
          "(set RESILINET_SHARED_DATA)", file=sys.stderr)


@unittest.skipUnless(data_present(), f"public tables not found in {DATA}")
class RealTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "us_counties")
        run = subprocess.run([sys.executable, BUILDER, "--data-dir", DATA, "--out", cls.out],
                             capture_output=True, text=True)
        cls.log = run.stderr
        if run.returncode != 0:
            raise AssertionError(f"builder failed ({run.returncode}): {run.stderr}")
        with open(os.path.join(cls.out, "us_counties.csv"), newline="", encoding="utf-8") as f:
            cls.rows = list(csv.DictReader(f))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_county_of_the_states_and_dc_once_in_fips_order(self):
        fips = [r["FIPS"] for r in self.rows]
        self.assertEqual(len(fips), EXPECTED_COUNTIES)
        self.assertEqual(len(set(fips)), len(fips))
        self.assertEqual(fips, sorted(fips))
        self.assertTrue(all(len(f) == 5 and f.isdigit() for f in fips))
        self.assertFalse([f for f in fips if f.startswith("72")], "Puerto Rico is left out")
        self.assertEqual(len({r["STATE"] for r in self.rows}), 51)

    def test_coordinates_present_and_in_range(self):
        for r in self.rows:
            lon, lat = float(r["LON"]), float(r["LAT"])
            self.assertFalse(math.isnan(lon) or math.isnan(lat), r["FIPS"])
            self.assertTrue(-180 <= lon <= 180 and 17 <= lat <= 72, (r["FIPS"], lon, lat))

    def test_hospitals_equal_an_independent_count_of_open_rows(self):
        in_set = {r["FIPS"] for r in self.rows}
        open_per_county, beds_per_county = {}, {}
        with open(os.path.join(DATA, "HIFLD_Hospitals_2022.csv"), newline="", encoding="utf-8-sig") as f:
            for h in csv.DictReader(f):
                if h["STATUS"] != "OPEN" or h["COUNTYFIPS"] not in in_set:
                    continue
                open_per_county[h["COUNTYFIPS"]] = open_per_county.get(h["COUNTYFIPS"], 0) + 1
                if h["BEDS"] != "-999":
                    beds_per_county[h["COUNTYFIPS"]] = beds_per_county.get(h["COUNTYFIPS"], 0) + int(h["BEDS"])
        self.assertEqual(sum(int(r["HOSPITALS"]) for r in self.rows), sum(open_per_county.values()))
        for r in self.rows:
            self.assertEqual(int(r["HOSPITALS"]), open_per_county.get(r["FIPS"], 0), r["FIPS"])
            if r["HOSPITAL_BEDS"]:
                self.assertEqual(float(r["HOSPITAL_BEDS"]), beds_per_county.get(r["FIPS"], 0), r["FIPS"])
        self.assertIn("7634 open, 379 closed (excluded); 7551 open hospitals", self.log)

    def test_joins_and_missing_values_as_measured(self):
        # NRI and broadband have 2019 geography: Valdez-Cordova (02261), not its 2019 successors.
        for table in ("NRI", "broadband"):
            line = next(l for l in self.log.splitlines() if l.startswith(f"build_us_counties: {table} "))
            self.assertIn("3141 of 3143 counties matched; without a row: 2 (02063, 02066); "
                          "rows outside the set: 1 (02261)", line)
        empty = lambda column: sum(1 for r in self.rows if r[column] == "")  # noqa: E731
        self.assertEqual(empty("BROADBAND_AVAILABILITY"), 11)  # 9 ' -   ' + 2 without a row
        self.assertEqual(empty("BROADBAND_USAGE"), 13)         # 11 ' -   ' + 2 without a row
        self.assertEqual(empty("BEDS_PER_100K"), 5)
        self.assertEqual(empty("HAZARD"), 2)
        self.assertEqual(sum(1 for r in self.rows if r["EXTERNAL_RATING"] != "0"), 3141)

    @unittest.skipUnless(os.path.exists(BIN), f"resilinet binary not built ({BIN})")
    def test_ingest_accepts_the_output(self):
        shards = os.path.join(self.tmp.name, "shards")
        run = subprocess.run([BIN, "ingest", "--csv", os.path.join(self.out, "us_counties.csv"),
                              "--schema", os.path.join(self.out, "us_counties_schema.yaml"),
                              "--out", shards], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn(f"ingest: {EXPECTED_COUNTIES} rows", run.stdout)
        self.assertIn("in 51 region(s)", run.stdout)


if __name__ == "__main__":
    unittest.main()
