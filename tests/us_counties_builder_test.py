"""datasets/us_counties/build_us_counties.py on small hand-made tables with the real column layouts
(BOM, CRLF, padded header names, FIPS codes that lost their leading zeros, -999 and ' -   '
markers): joined values, hospital counting, unmatched-county report, bad input, determinism; then
`resilinet ingest` on the output, read back with h5py (skipped when the binary is not built)."""
import csv
import io
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

# Header lines as the agencies publish them (column names only).
SVI_HEADER = (
    "ST,STATE,ST_ABBR,STCNTY,COUNTY,FIPS,LOCATION,AREA_SQMI,E_TOTPOP,M_TOTPOP,E_HU,M_HU,E_HH,M_HH,"
    "E_POV150,M_POV150,E_UNEMP,M_UNEMP,E_HBURD,M_HBURD,E_NOHSDP,M_NOHSDP,E_UNINSUR,M_UNINSUR,E_AGE65,"
    "M_AGE65,E_AGE17,M_AGE17,E_DISABL,M_DISABL,E_SNGPNT,M_SNGPNT,E_LIMENG,M_LIMENG,E_MINRTY,M_MINRTY,"
    "E_MUNIT,M_MUNIT,E_MOBILE,M_MOBILE,E_CROWD,M_CROWD,E_NOVEH,M_NOVEH,E_GROUPQ,M_GROUPQ,EP_POV150,"
    "MP_POV150,EP_UNEMP,MP_UNEMP,EP_HBURD,MP_HBURD,EP_NOHSDP,MP_NOHSDP,EP_UNINSUR,MP_UNINSUR,EP_AGE65,"
    "MP_AGE65,EP_AGE17,MP_AGE17,EP_DISABL,MP_DISABL,EP_SNGPNT,MP_SNGPNT,EP_LIMENG,MP_LIMENG,EP_MINRTY,"
    "MP_MINRTY,EP_MUNIT,MP_MUNIT,EP_MOBILE,MP_MOBILE,EP_CROWD,MP_CROWD,EP_NOVEH,MP_NOVEH,EP_GROUPQ,"
    "MP_GROUPQ,EPL_POV150,EPL_UNEMP,EPL_HBURD,EPL_NOHSDP,EPL_UNINSUR,SPL_THEME1,RPL_THEME1,EPL_AGE65,"
    "EPL_AGE17,EPL_DISABL,EPL_SNGPNT,EPL_LIMENG,SPL_THEME2,RPL_THEME2,EPL_MINRTY,SPL_THEME3,RPL_THEME3,"
    "EPL_MUNIT,EPL_MOBILE,EPL_CROWD,EPL_NOVEH,EPL_GROUPQ,SPL_THEME4,RPL_THEME4,SPL_THEMES,RPL_THEMES,"
    "F_POV150,F_UNEMP,F_HBURD,F_NOHSDP,F_UNINSUR,F_THEME1,F_AGE65,F_AGE17,F_DISABL,F_SNGPNT,F_LIMENG,"
    "F_THEME2,F_MINRTY,F_THEME3,F_MUNIT,F_MOBILE,F_CROWD,F_NOVEH,F_GROUPQ,F_THEME4,F_TOTAL,E_DAYPOP,"
    "E_NOINT,M_NOINT,E_AFAM,M_AFAM,E_HISP,M_HISP,E_ASIAN,M_ASIAN,E_AIAN,M_AIAN,E_NHPI,M_NHPI,E_TWOMORE,"
    "M_TWOMORE,E_OTHERRACE,M_OTHERRACE,EP_NOINT,MP_NOINT,EP_AFAM,MP_AFAM,EP_HISP,MP_HISP,EP_ASIAN,"
    "MP_ASIAN,EP_AIAN,MP_AIAN,EP_NHPI,MP_NHPI,EP_TWOMORE,MP_TWOMORE,EP_OTHERRACE,MP_OTHERRACE").split(",")
HOSPITAL_HEADER = (
    "X,Y,OBJECTID,ID,NAME,ADDRESS,CITY,STATE,ZIP,ZIP4,TELEPHONE,TYPE,STATUS,POPULATION,COUNTY,"
    "COUNTYFIPS,COUNTRY,LATITUDE,LONGITUDE,NAICS_CODE,NAICS_DESC,SOURCE,SOURCEDATE,VAL_METHOD,VAL_DATE,"
    "WEBSITE,STATE_ID,ALT_NAME,ST_FIPS,OWNER,TTL_STAFF,BEDS,TRAUMA,HELIPAD").split(",")
NRI_HEADER = (
    "OID_,NRI_ID,STATE,STATEABBRV,STATEFIPS,COUNTY,COUNTYTYPE,COUNTYFIPS,STCOFIPS,POPULATION,"
    "BUILDVALUE,AGRIVALUE,AREA,EAL_SCORE,EAL_RATNG,EAL_NPCTL,EAL_SPCTL,EAL_VALT,EAL_VALB,EAL_VALP,"
    "EAL_VALPE,EAL_VALA,SOVI_SCORE,SOVI_RATNG,SOVI_NPCTL,SOVI_SPCTL,SOVI_VALUE").split(",")
BROADBAND_HEADER = ["ST", "COUNTY ID", "COUNTY NAME", " BROADBAND AVAILABILITY PER FCC ", " BROADBAND USAGE "]
GAZ_HEADER = ["USPS", "GEOID", "ANSICODE", "NAME", "ALAND", "AWATER", "ALAND_SQMI", "AWATER_SQMI",
              "INTPTLAT", "INTPTLONG"]

EP = ["EP_MOBILE", "EP_CROWD", "EP_NOINT", "EP_NOVEH", "EP_POV150", "EP_NOHSDP", "EP_UNINSUR",
      "EP_UNEMP", "EP_AGE65"]

# Fake counties. 02063 is only in the fallback gazetteer and in neither NRI nor broadband;
# 56045 is in no gazetteer (left out); 72001 is Puerto Rico (left out).
SVI_ROWS = [
    # FIPS, ST_ABBR, LOCATION, AREA_SQMI, E_TOTPOP, {EP column: value}
    ("01001", "AL", "Autauga County, Alabama", "500", "50000",
     dict(EP_MOBILE="18.2", EP_CROWD="1.6", EP_NOINT="12.9", EP_NOVEH="5.4", EP_POV150="22.9",
          EP_NOHSDP="11.3", EP_UNINSUR="8", EP_UNEMP="2.9", EP_AGE65="15.3")),
    ("02016", "AK", "Aleutians West Census Area, Alaska", "4000", "3000",
     dict(EP_MOBILE="1", EP_CROWD="12.5", EP_NOINT="-999", EP_NOVEH="7", EP_POV150="10",
          EP_NOHSDP="9", EP_UNINSUR="20", EP_UNEMP="4", EP_AGE65="8")),
    ("02063", "AK", "Chugach Census Area, Alaska", "9000", "6500",
     dict(EP_MOBILE="5", EP_CROWD="3", EP_NOINT="10", EP_NOVEH="4", EP_POV150="12",
          EP_NOHSDP="6", EP_UNINSUR="15", EP_UNEMP="5", EP_AGE65="14")),
    ("06037", "CA", "Los Angeles County, California", "4000", "1000000",
     dict(EP_MOBILE="1.5", EP_CROWD="11", EP_NOINT="10", EP_NOVEH="9", EP_POV150="25",
          EP_NOHSDP="20", EP_UNINSUR="10", EP_UNEMP="7", EP_AGE65="13")),
    ("09001", "CT", "Fairfield County, Connecticut", "-999", "900000",
     dict(EP_MOBILE="0.5", EP_CROWD="2", EP_NOINT="9", EP_NOVEH="10", EP_POV150="15",
          EP_NOHSDP="10", EP_UNINSUR="8", EP_UNEMP="-999", EP_AGE65="16")),
    ("56045", "WY", "Weston County, Wyoming", "2400", "7000",
     dict(EP_MOBILE="10", EP_CROWD="1", EP_NOINT="15", EP_NOVEH="3", EP_POV150="20",
          EP_NOHSDP="8", EP_UNINSUR="12", EP_UNEMP="3", EP_AGE65="20")),
    ("72001", "PR", "Adjuntas Municipio, Puerto Rico", "67", "17000",
     dict(EP_MOBILE="0", EP_CROWD="2", EP_NOINT="40", EP_NOVEH="15", EP_POV150="70",
          EP_NOHSDP="30", EP_UNINSUR="6", EP_UNEMP="10", EP_AGE65="20")),
]
GAZ2019_ROWS = [  # comma-separated, no header, Census number formats
    ["AL", "01001", "00161526", "Autauga County", "1539602137", "25706961", "594.444", "9.926",
     "32.532237", "-86.64644"],
    ["AK", "02016", "01419965", "Aleutians West Census Area", "11381568820", "25179951971",
     "4394.448", "9722.034", "51.948964", "+179.621188"],
    ["AK", "02261", "01419972", "Valdez-Cordova Census Area", "1", "1", "1.", "1.", "61.35", "-145.0"],
    ["CA", "06037", "00277283", "Los Angeles County", "1", "1", "617.", "1.", "34.196398", "-118.261862"],
    ["CT", "09001", "00212794", "Fairfield County", "1", "1", "1.", "1.", "41.228103", "-73.366757"],
    ["PR", "72001", "01804480", "Adjuntas Municipio", "1", "1", "1.", "1.", "18.180555", "-66.754149"],
]
GAZ2023_ROWS = [  # tab-separated with a header; the last column is padded with spaces
    ["AL", "01001", "00161526", "Autauga County", "1", "1", "1", "1", "10.0", "-10.0"],
    ["AK", "02063", "02516404", "Chugach Census Area", "1", "1", "1", "1", "60.8", "-146.6"],
]
NRI_ROWS = [  # STCOFIPS without leading zeros, as the file has them
    ("1001", "40000", "1000000", "Very High"),
    ("2016", "0", "5000", "Relatively Low"),
    ("2261", "9636", "100", "Relatively Low"),
    ("6037", "1000000", "2500000", "Very Low"),
    ("9001", "900000", "450000.5", "Data Unavailable"),
]
BROADBAND_ROWS = [
    ("AL", "1001", "Autauga County", "0.8057", "0.391"),
    ("AK", "2016", "Aleutians West Census Area", " -   ", " -   "),
    ("AK", "2261", "Valdez-Cordova Census Area", "0.5", "0.2"),
    ("CA", "6037", "Los Angeles County", "0.99", "0.7"),
    ("CT", "9001", "Fairfield County", "0.95", " -   "),
]
HOSPITAL_ROWS = [  # COUNTYFIPS, STATUS, BEDS
    ("01001", "OPEN", "100"),
    ("01001", "OPEN", "-999"),
    ("01001", "CLOSED", "50"),
    ("02016", "OPEN", "-999"),
    ("06037", "OPEN", "300"),
    ("06037", "CLOSED", "10"),
    ("06037", "OPEN", "200"),
    ("72001", "OPEN", "20"),
]

EXPECTED_FIPS = ["01001", "02016", "02063", "06037", "09001"]


def write_csv(path, header, rows, bom=False, crlf=False, delimiter=","):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        f.write(buffer.getvalue())


def svi_line(fips, state, location, area, pop, ep):
    values = {name: "0" for name in SVI_HEADER}
    values.update(ST=fips[:2], STATE=location.split(", ")[1], ST_ABBR=state, STCNTY=fips,
                  COUNTY=location.split(",")[0], FIPS=fips, LOCATION=location, AREA_SQMI=area,
                  E_TOTPOP=pop)
    values.update(ep)
    return [values[name] for name in SVI_HEADER]


def hospital_line(i, fips, status, beds):
    values = {name: "NOT AVAILABLE" for name in HOSPITAL_HEADER}
    values.update(X="-86.5", Y="31.3", OBJECTID=str(i + 1), ID=str(1000 + i), NAME=f"HOSPITAL {i}",
                  TYPE="GENERAL ACUTE CARE", STATUS=status, COUNTYFIPS=fips, LATITUDE="31.3",
                  LONGITUDE="-86.5", BEDS=beds, ST_FIPS=fips[:2], TTL_STAFF="-999")
    return [values[name] for name in HOSPITAL_HEADER]


def nri_line(i, stcofips, population, eal, sovi):
    values = {name: "1" for name in NRI_HEADER}
    values.update(OID_=str(i + 1), NRI_ID="C" + stcofips.zfill(5), STCOFIPS=stcofips,
                  POPULATION=population, EAL_VALT=eal, SOVI_RATNG=sovi, EAL_RATNG="Relatively Low")
    return [values[name] for name in NRI_HEADER]


def write_tables(folder, svi_rows=SVI_ROWS, nri_rows=NRI_ROWS, hospital_rows=HOSPITAL_ROWS,
                 svi_header=SVI_HEADER):
    """The five tables under their published names (for --data-dir), in their published encodings."""
    write_csv(os.path.join(folder, "SVI2020_US_COUNTY.csv"), svi_header,
              [svi_line(*r) for r in svi_rows], bom=True)
    write_csv(os.path.join(folder, "HIFLD_Hospitals_2022.csv"), HOSPITAL_HEADER,
              [hospital_line(i, *r) for i, r in enumerate(hospital_rows)], bom=True)
    write_csv(os.path.join(folder, "NRI_Counties_Nov2021_EAL_SOVI.csv"), NRI_HEADER,
              [nri_line(i, *r) for i, r in enumerate(nri_rows)], crlf=True)
    write_csv(os.path.join(folder, "broadband_data_2020October.csv"), BROADBAND_HEADER,
              BROADBAND_ROWS, crlf=True)
    write_csv(os.path.join(folder, "2019_Gaz_counties_national_noheader.csv"), None, GAZ2019_ROWS)
    pad = lambda row: row[:-1] + [row[-1] + " " * 20]  # noqa: E731
    write_csv(os.path.join(folder, "2023_Gaz_counties_national.txt"), pad(GAZ_HEADER),
              [pad(r) for r in GAZ2023_ROWS], delimiter="\t")


def run_builder(*args):
    return subprocess.run([sys.executable, BUILDER, *args], capture_output=True, text=True)


def read_output(out_dir):
    with open(os.path.join(out_dir, "us_counties.csv"), newline="", encoding="utf-8") as f:
        return {row["FIPS"]: row for row in csv.DictReader(f)}


class BuilderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "tables")
        self.out = os.path.join(self.tmp.name, "out")
        os.mkdir(self.data)
        write_tables(self.data)

    def tearDown(self):
        self.tmp.cleanup()

    def build(self, *extra):
        run = run_builder("--data-dir", self.data, "--out", self.out, *extra)
        self.assertEqual(run.returncode, 0, run.stderr)
        return read_output(self.out), run.stderr

    def test_base_set_is_svi_states_with_coordinates_sorted_by_fips(self):
        rows, log = self.build()
        self.assertEqual(list(rows), EXPECTED_FIPS)
        self.assertIn("1 outside the 50 states and DC left out (72001)", log)
        self.assertIn("1 without coordinates in any gazetteer left out (56045)", log)
        self.assertEqual([rows[f]["STATE"] for f in EXPECTED_FIPS], ["AL", "AK", "AK", "CA", "CT"])
        self.assertEqual(rows["01001"]["COUNTY"], "Autauga County, Alabama")

    def test_first_gazetteer_wins_and_later_ones_fill_gaps(self):
        rows, log = self.build()
        self.assertEqual((rows["01001"]["LON"], rows["01001"]["LAT"]), ("-86.64644", "32.532237"))
        self.assertEqual((rows["02016"]["LON"], rows["02016"]["LAT"]), ("179.621188", "51.948964"))
        self.assertEqual((rows["02063"]["LON"], rows["02063"]["LAT"]), ("-146.6", "60.8"))
        self.assertIn("2019_Gaz_counties_national_noheader.csv): coordinates for 4 counties", log)
        self.assertIn("2023_Gaz_counties_national.txt): coordinates for 1 counties", log)

    def test_unpadded_fips_codes_join(self):
        rows, _ = self.build()
        self.assertEqual(rows["01001"]["BROADBAND_AVAILABILITY"], "0.8057")
        self.assertEqual(rows["01001"]["BROADBAND_USAGE"], "0.391")
        self.assertEqual(rows["01001"]["EAL_VALT"], "1000000")
        self.assertEqual(rows["06037"]["NRI_POPULATION"], "1000000")

    def test_open_hospitals_and_known_beds_per_county(self):
        rows, log = self.build()
        # 01001: two open (one with BEDS -999: counted, its beds unknown), one closed (excluded).
        self.assertEqual(rows["01001"]["HOSPITALS"], "2")
        self.assertEqual(rows["01001"]["HOSPITALS_BEDS_UNKNOWN"], "1")
        self.assertEqual(rows["01001"]["HOSPITAL_BEDS"], "100")
        self.assertEqual(float(rows["01001"]["HOSPITALS_PER_100K"]), 4.0)
        self.assertEqual(float(rows["01001"]["BEDS_PER_100K"]), 200.0)
        self.assertEqual(float(rows["01001"]["HOSPITALS_PER_1000_SQMI"]), 4.0)
        # 02016: its only hospital has unknown beds -> beds missing, not 0.
        self.assertEqual(rows["02016"]["HOSPITALS"], "1")
        self.assertEqual(rows["02016"]["HOSPITAL_BEDS"], "")
        self.assertEqual(rows["02016"]["BEDS_PER_100K"], "")
        self.assertEqual(float(rows["02016"]["HOSPITALS_PER_100K"]), 1 / 3000 * 100000)
        # 06037: closed hospital's 10 beds left out.
        self.assertEqual(rows["06037"]["HOSPITALS"], "2")
        self.assertEqual(rows["06037"]["HOSPITAL_BEDS"], "500")
        self.assertEqual(float(rows["06037"]["BEDS_PER_100K"]), 50.0)
        self.assertEqual(float(rows["06037"]["HOSPITALS_PER_1000_SQMI"]), 0.5)
        # No hospital: zero counts and rates.
        for fips in ("02063", "09001"):
            self.assertEqual(rows[fips]["HOSPITALS"], "0")
            self.assertEqual(rows[fips]["HOSPITAL_BEDS"], "0")
            self.assertEqual(rows[fips]["HOSPITALS_PER_100K"], "0")
        self.assertIn("6 open, 2 closed (excluded); 5 open hospitals in 3 counties of the set "
                      "(2 with unknown beds), 1 open in 1 counties outside the set (72001)", log)

    def test_missing_markers_give_empty_cells(self):
        rows, log = self.build()
        self.assertEqual(rows["02016"]["EP_NOINT"], "")               # SVI -999
        self.assertEqual(rows["09001"]["EP_UNEMP"], "")               # SVI -999
        self.assertEqual(rows["09001"]["AREA_SQMI"], "")              # SVI -999
        self.assertEqual(rows["09001"]["HOSPITALS_PER_1000_SQMI"], "")  # no area -> no density
        self.assertEqual(rows["02016"]["BROADBAND_AVAILABILITY"], "")  # broadband ' -   '
        self.assertEqual(rows["02016"]["BROADBAND_USAGE"], "")
        self.assertEqual(rows["09001"]["BROADBAND_USAGE"], "")
        self.assertEqual(rows["09001"]["BROADBAND_AVAILABILITY"], "0.95")
        self.assertEqual(rows["01001"]["EP_UNINSUR"], "8")
        self.assertIn("BROADBAND_USAGE 3", log)  # 02016, 02063 (no row), 09001

    def test_hazard_is_expected_annual_loss_per_resident_or_total(self):
        rows, _ = self.build()
        self.assertEqual(float(rows["01001"]["HAZARD"]), 25.0)
        self.assertEqual(float(rows["06037"]["HAZARD"]), 2.5)
        self.assertEqual(float(rows["09001"]["HAZARD"]), 450000.5 / 900000)
        self.assertEqual(rows["02016"]["HAZARD"], "")  # NRI population 0
        self.assertEqual(rows["02063"]["HAZARD"], "")  # no NRI row
        rows, log = self.build("--hazard", "eal_total")
        self.assertEqual(rows["01001"]["HAZARD"], "1000000")
        self.assertEqual(rows["02016"]["HAZARD"], "5000")
        self.assertEqual(rows["09001"]["HAZARD"], "450000.5")
        self.assertIn("hazard = eal_total", log)

    def test_external_rating_inverts_social_vulnerability(self):
        rows, _ = self.build()
        ratings = {f: rows[f]["EXTERNAL_RATING"] for f in EXPECTED_FIPS}
        self.assertEqual(ratings, {"01001": "1", "02016": "4", "02063": "0", "06037": "5", "09001": "0"})

    def test_unmatched_counties_are_reported_per_table(self):
        _, log = self.build()
        for table in ("NRI", "broadband"):
            line = next(l for l in log.splitlines() if l.startswith(f"build_us_counties: {table} "))
            self.assertIn("4 of 5 counties matched; without a row: 1 (02063); "
                          "rows outside the set: 1 (02261)", line)

    def test_same_inputs_give_the_same_bytes(self):
        self.build()
        with open(os.path.join(self.out, "us_counties.csv"), "rb") as f:
            first = f.read()
        self.build()
        with open(os.path.join(self.out, "us_counties.csv"), "rb") as f:
            self.assertEqual(f.read(), first)
        self.assertEqual(sorted(os.listdir(self.out)), ["us_counties.csv", "us_counties_schema.yaml"])

    def test_schema_is_copied_and_names_only_written_columns(self):
        self.build()
        with open(os.path.join(SOURCE_DIR, "datasets", "us_counties", "schema.yaml"), "rb") as f:
            shipped = f.read()
        with open(os.path.join(self.out, "us_counties_schema.yaml"), "rb") as f:
            self.assertEqual(f.read(), shipped)
        with open(os.path.join(self.out, "us_counties.csv"), encoding="utf-8") as f:
            header = set(next(csv.reader(f)))
        named = [line.split(":", 1)[1].strip() for line in shipped.decode().splitlines()
                 if line.strip().startswith(("column:", "id:", "lon:", "lat:", "region:", "hazard:",
                                             "external_rating:"))]
        self.assertEqual(len([n for n in named if n.startswith(("HOSPITALS_", "BEDS", "BROADBAND", "EP_"))]), 14)
        for name in named:
            self.assertIn(name, header)

    def test_explicit_paths_work_like_data_dir(self):
        join = lambda name: os.path.join(self.data, name)  # noqa: E731
        run = run_builder("--svi", join("SVI2020_US_COUNTY.csv"), "--hospitals", join("HIFLD_Hospitals_2022.csv"),
                          "--nri", join("NRI_Counties_Nov2021_EAL_SOVI.csv"),
                          "--broadband", join("broadband_data_2020October.csv"),
                          "--gazetteer", join("2019_Gaz_counties_national_noheader.csv"), "--out", self.out)
        self.assertEqual(run.returncode, 0, run.stderr)
        # Without the fallback gazetteer 02063 has no coordinates and is left out.
        self.assertEqual(list(read_output(self.out)), ["01001", "02016", "06037", "09001"])


class BadInputTest(unittest.TestCase):
    """Exit code 2, one line `build_us_counties: FILE: FIELD: expected ..., got ...`, nothing written."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "tables")
        self.out = os.path.join(self.tmp.name, "out")
        os.mkdir(self.data)

    def tearDown(self):
        self.tmp.cleanup()

    def expect_bad(self, file_name, *fragments, args=None):
        run = run_builder(*(args or ["--data-dir", self.data, "--out", self.out]))
        self.assertEqual(run.returncode, 2, run.stderr)
        lines = run.stderr.splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertRegex(lines[0], r"^build_us_counties: [^:]+: [^:]+: expected .+, got .+$")
        self.assertIn(file_name, lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertFalse(os.path.exists(self.out), "nothing may be written on bad input")
        return lines[0]

    def test_missing_file(self):
        write_tables(self.data)
        os.remove(os.path.join(self.data, "HIFLD_Hospitals_2022.csv"))
        self.expect_bad("HIFLD_Hospitals_2022.csv", "no such file")

    def test_missing_required_column(self):
        header = [("EP_POV150_X" if n == "EP_POV150" else n) for n in SVI_HEADER]
        write_tables(self.data, svi_header=header)
        self.expect_bad("SVI2020_US_COUNTY.csv", "header", "a column 'EP_POV150'")

    def test_unparsable_number(self):
        rows = list(SVI_ROWS)
        rows[1] = rows[1][:4] + ("about 3000",) + rows[1][5:]
        write_tables(self.data, svi_rows=rows)
        self.expect_bad("SVI2020_US_COUNTY.csv", "line 3, column E_TOTPOP", "'about 3000'")

    def test_unparsable_beds(self):
        write_tables(self.data, hospital_rows=HOSPITAL_ROWS + [("06037", "OPEN", "many")])
        self.expect_bad("HIFLD_Hospitals_2022.csv", "column BEDS", "'many'")

    def test_unknown_status(self):
        write_tables(self.data, hospital_rows=HOSPITAL_ROWS + [("06037", "MAYBE", "1")])
        self.expect_bad("HIFLD_Hospitals_2022.csv", "column STATUS", "OPEN or CLOSED")

    def test_duplicate_fips_after_padding(self):
        write_tables(self.data, nri_rows=NRI_ROWS + [("01001", "1", "1", "Very Low")])
        self.expect_bad("NRI_Counties_Nov2021_EAL_SOVI.csv", "column STCOFIPS", "01001 again (first on line 2)")

    def test_bad_fips(self):
        write_tables(self.data, hospital_rows=HOSPITAL_ROWS + [("NOT AVAILABLE", "OPEN", "1")])
        self.expect_bad("HIFLD_Hospitals_2022.csv", "column COUNTYFIPS", "county FIPS")

    def test_unknown_vulnerability_rating(self):
        write_tables(self.data, nri_rows=NRI_ROWS[:-1] + [("9001", "900000", "1", "Quite High")])
        self.expect_bad("NRI_Counties_Nov2021_EAL_SOVI.csv", "column SOVI_RATNG", "'Quite High'")

    def test_no_table_paths(self):
        self.expect_bad("command line", "--svi", args=["--out", self.out])

    def test_failure_keeps_earlier_outputs(self):
        write_tables(self.data)
        good = run_builder("--data-dir", self.data, "--out", self.out)
        self.assertEqual(good.returncode, 0, good.stderr)
        with open(os.path.join(self.out, "us_counties.csv"), "rb") as f:
            before = f.read()
        write_tables(self.data, nri_rows=NRI_ROWS + [("1001", "1", "1", "Very Low")])
        run = run_builder("--data-dir", self.data, "--out", self.out)
        self.assertEqual(run.returncode, 2)
        self.assertEqual(sorted(os.listdir(self.out)), ["us_counties.csv", "us_counties_schema.yaml"])
        with open(os.path.join(self.out, "us_counties.csv"), "rb") as f:
            self.assertEqual(f.read(), before)


@unittest.skipUnless(os.path.exists(BIN), f"resilinet binary not built ({BIN})")
class IngestTest(unittest.TestCase):
    def test_ingest_reads_the_built_csv(self):
        import h5py  # only needed here
        import numpy as np

        with tempfile.TemporaryDirectory() as tmp:
            data, out, shards = (os.path.join(tmp, d) for d in ("tables", "out", "shards"))
            os.mkdir(data)
            write_tables(data)
            built = run_builder("--data-dir", data, "--out", out)
            self.assertEqual(built.returncode, 0, built.stderr)
            ingest = subprocess.run([BIN, "ingest", "--csv", os.path.join(out, "us_counties.csv"),
                                     "--schema", os.path.join(out, "us_counties_schema.yaml"),
                                     "--out", shards], capture_output=True, text=True)
            self.assertEqual(ingest.returncode, 0, ingest.stdout + ingest.stderr)
            with h5py.File(os.path.join(shards, "part-00000.h5"), "r") as f:
                names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["feature_names"]]
                systems = {s.decode() if isinstance(s, bytes) else s for s in f.attrs["feature_system"]}
                components = {c.decode() if isinstance(c, bytes) else c for c in f.attrs["feature_component"]}
                regions = [r.decode() if isinstance(r, bytes) else r for r in f.attrs["region_names"]]
                features = f["features"][...]
                ids = f["cell_id"][...]
                lonlat = f["lonlat"][...]
                region = f["region"][...]
                hazard = f["hazard"][...]
                rating = f["external_rating"][...]

        self.assertEqual(features.shape, (5, 14))
        self.assertGreaterEqual(len(names), 12)
        self.assertEqual(systems, {"facility", "infrastructure", "society"})
        self.assertEqual(components, {"robustness", "redundancy", "resourcefulness"})
        self.assertEqual(ids.tolist(), [1001, 2016, 2063, 6037, 9001])
        self.assertEqual(regions, ["AL", "AK", "CA", "CT"])
        self.assertEqual(region.tolist(), [0, 1, 1, 2, 3])
        self.assertEqual(lonlat[1].tolist(), [179.621188, 51.948964])
        self.assertEqual(rating.tolist(), [1, 4, 0, 5, 0])
        self.assertEqual(hazard[0], np.float32(25.0))
        self.assertTrue(math.isnan(hazard[1]) and math.isnan(hazard[2]))

        col = {n: i for i, n in enumerate(names)}
        self.assertAlmostEqual(float(features[0, col["hospitals_per_100k"]]), math.log1p(4.0), places=6)
        self.assertAlmostEqual(float(features[0, col["hospital_beds_per_100k"]]), math.log1p(200.0), places=5)
        self.assertTrue(math.isnan(features[1, col["hospital_beds_per_100k"]]))
        self.assertTrue(math.isnan(features[1, col["no_internet"]]))
        self.assertTrue(math.isnan(features[1, col["broadband_usage"]]))
        self.assertTrue(math.isnan(features[4, col["hospitals_per_1000_sqmi"]]))
        self.assertEqual(float(features[3, col["poverty"]]), 25.0)
        self.assertEqual(float(features[0, col["broadband_availability"]]), float(np.float32(0.8057)))


if __name__ == "__main__":
    unittest.main()
