#!/usr/bin/env python3
"""Builds one CSV row per US county (50 states + DC) from public agency tables, ready for
`resilinet ingest` with the schema next to it (datasets/us_counties/schema.yaml, copied).

Tables, joined on the 5-digit county FIPS code:
  CDC/ATSDR SVI 2020 (the base set: population, area, EP_* percentages, state),
  Census Gazetteer (internal point: lon/lat),
  DHS HIFLD hospitals (OPEN hospitals and their beds per county),
  FEMA NRI (expected annual loss -> hazard; SoVI rating -> external rating, evaluation only),
  Microsoft/FCC broadband shares.

Standard library only. Bad input exits with code 2 and one line
`build_us_counties: FILE: FIELD: expected ..., got ...` and writes nothing.
See datasets/us_counties/README.md.
"""
import argparse
import csv
import io
import math
import os
import re
import sys
import tempfile

PROG = "build_us_counties"
SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(SCRIPT_DIR, "schema.yaml")

# File names as published (see datasets/us_counties/README.md); used by --data-dir.
STANDARD_FILES = {
    "svi": "SVI2020_US_COUNTY.csv",
    "hospitals": "HIFLD_Hospitals_2022.csv",
    "nri": "NRI_Counties_Nov2021_EAL_SOVI.csv",
    "broadband": "broadband_data_2020October.csv",
    "gazetteer": "2019_Gaz_counties_national_noheader.csv",
}
# A newer Gazetteer, used with --data-dir when present: it has the two Alaska areas created in
# 2019 (02063 Chugach, 02066 Copper River) that SVI 2020 has and the 2019 Gazetteer lacks.
FALLBACK_GAZETTEER = "2023_Gaz_counties_national.txt"

# State FIPS codes of the 50 states and DC; Puerto Rico (72) and the Island Areas are left out.
STATE_FIPS = frozenset(
    "01 02 04 05 06 08 09 10 11 12 13 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 "
    "34 35 36 37 38 39 40 41 42 44 45 46 47 48 49 50 51 53 54 55 56".split())

# SVI percentages passed through as features (names are SVI's).
SVI_PERCENT_COLUMNS = ["EP_MOBILE", "EP_CROWD", "EP_NOINT", "EP_NOVEH", "EP_POV150", "EP_NOHSDP",
                       "EP_UNINSUR", "EP_UNEMP", "EP_AGE65"]

# Texts that mean "no value" in a numeric cell (after stripping spaces). The broadband file
# writes " -   "; SVI and HIFLD write -999 (handled numerically in parse_optional_number).
MISSING_TEXTS = frozenset(["", "-", "NA", "N/A", "NaN", "nan", "null", "NOT AVAILABLE"])
MISSING_SENTINEL = -999.0

# NRI social vulnerability rating -> resilience 1..5 (high vulnerability = low resilience).
SOVI_TO_RESILIENCE = {
    "Very High": 1,
    "Relatively High": 2,
    "Relatively Moderate": 3,
    "Relatively Low": 4,
    "Very Low": 5,
}
SOVI_NO_RATING = frozenset(["", "Data Unavailable", "Insufficient Data", "No Rating", "Not Applicable"])

HAZARD_CHOICES = ("eal_per_capita", "eal_total")

OUTPUT_COLUMNS = [
    "FIPS", "STATE", "COUNTY", "LON", "LAT", "E_TOTPOP", "AREA_SQMI",
    "HOSPITALS", "HOSPITALS_BEDS_UNKNOWN", "HOSPITAL_BEDS",
    "HOSPITALS_PER_100K", "BEDS_PER_100K", "HOSPITALS_PER_1000_SQMI",
    "BROADBAND_AVAILABILITY", "BROADBAND_USAGE",
] + SVI_PERCENT_COLUMNS + [
    "NRI_POPULATION", "EAL_VALT", "EAL_PER_CAPITA", "HAZARD", "SOVI_RATNG", "EXTERNAL_RATING",
]

# Features the README reports missing counts for (the schema's feature columns).
FEATURE_COLUMNS = ["HOSPITALS_PER_100K", "BEDS_PER_100K", "HOSPITALS_PER_1000_SQMI",
                   "BROADBAND_AVAILABILITY", "BROADBAND_USAGE"] + SVI_PERCENT_COLUMNS


class InputProblem(Exception):
    """Bad input: reported as one line and exit code 2."""

    def __init__(self, path, field, expected, got):
        super().__init__(f"{path}: {field}: expected {expected}, got {got}")


def log(message):
    print(f"{PROG}: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Reading and parsing cells

def read_table(path, delimiter=",", has_header=True):
    """(header, rows) with rows as (line number, fields). UTF-8 with or without a BOM; any line end."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            rows = [(reader.line_num, fields) for fields in reader if fields]
    except FileNotFoundError:
        raise InputProblem(path, "file", "a readable file", "no such file")
    except IsADirectoryError:
        raise InputProblem(path, "file", "a readable file", "a folder")
    except UnicodeDecodeError as e:
        raise InputProblem(path, f"byte {e.start}", "UTF-8 text", f"byte 0x{e.object[e.start]:02x}")
    except csv.Error as e:
        raise InputProblem(path, "file", "CSV text", str(e))
    if not has_header:
        return None, rows
    if not rows:
        raise InputProblem(path, "line 1", "a header line", "an empty file")
    header = [name.strip() for name in rows[0][1]]
    return header, rows[1:]


def column_index(header, name, path):
    if name not in header:
        raise InputProblem(path, "header", f"a column '{name}'", "columns " + ", ".join(header[:12])
                           + (", ..." if len(header) > 12 else ""))
    return header.index(name)


def cell(fields, index, path, line, name):
    if index >= len(fields):
        raise InputProblem(path, f"line {line}", f"a field '{name}' (column {index + 1})",
                           f"{len(fields)} fields")
    return fields[index]


def parse_fips(text, path, where):
    """5-digit county FIPS; restores leading zeros lost to integer parsing (1001 -> 01001)."""
    s = text.strip()
    m = re.fullmatch(r"(\d{1,5})(\.0*)?", s)
    if not m:
        raise InputProblem(path, where, "a county FIPS code of up to 5 digits", repr(text))
    return m.group(1).zfill(5)


def parse_optional_number(text, path, where):
    """A finite float, or None for a missing-value marker (empty, ' -   ', -999, NA, ...)."""
    s = text.strip()
    if s in MISSING_TEXTS:
        return None
    try:
        value = float(s)
    except ValueError:
        raise InputProblem(path, where, "a number or a missing-value marker", repr(text))
    if not math.isfinite(value):
        raise InputProblem(path, where, "a finite number", repr(text))
    return None if value == MISSING_SENTINEL else value


def parse_required_number(text, path, where):
    value = parse_optional_number(text, path, where)
    if value is None:
        raise InputProblem(path, where, "a number", repr(text))
    return value


def add_once(table, fips, value, first_line, path, line, column):
    """Stores one row per county; a second row for the same FIPS is bad input."""
    if fips in table:
        raise InputProblem(path, f"line {line}, column {column}", "each county once",
                           f"{fips} again (first on line {first_line[fips]})")
    table[fips] = value
    first_line[fips] = line


# ---------------------------------------------------------------------------------------------
# One reader per table: each returns {fips: record}

class Row:
    """One data line of a table: get(column) is its text, at(column) names the place for messages."""

    def __init__(self, path, line, fields, idx):
        self.path, self.line, self.fields, self.idx = path, line, fields, idx

    def get(self, name):
        return cell(self.fields, self.idx[name], self.path, self.line, name)

    def at(self, name):
        return f"line {self.line}, column {name}"


def table_rows(path, header, rows, needed):
    """The data lines of a table read by read_table, with the needed columns located (a missing
    column is reported before any line is read)."""
    idx = {name: column_index(header, name, path) for name in needed}
    return (Row(path, line, fields, idx) for line, fields in rows)

def read_svi(path):
    header, rows = read_table(path)
    needed = ["FIPS", "ST_ABBR", "LOCATION", "E_TOTPOP", "AREA_SQMI"] + SVI_PERCENT_COLUMNS
    counties, first_line = {}, {}
    for row in table_rows(path, header, rows, needed):
        get, at, line = row.get, row.at, row.line
        fips = parse_fips(get("FIPS"), path, at("FIPS"))
        state = get("ST_ABBR").strip()
        if not state:
            raise InputProblem(path, at("ST_ABBR"), "a state abbreviation", "an empty field")
        record = {
            "state": state,
            "name": get("LOCATION").strip(),
            "population": parse_optional_number(get("E_TOTPOP"), path, at("E_TOTPOP")),
            "area_sqmi": parse_optional_number(get("AREA_SQMI"), path, at("AREA_SQMI")),
        }
        for name in SVI_PERCENT_COLUMNS:
            record[name] = parse_optional_number(get(name), path, at(name))
        add_once(counties, fips, record, first_line, path, line, "FIPS")
    return counties


GAZETTEER_COLUMNS = ["USPS", "GEOID", "ANSICODE", "NAME", "ALAND", "AWATER", "ALAND_SQMI",
                     "AWATER_SQMI", "INTPTLAT", "INTPTLONG"]


def gazetteer_layout(path):
    """(delimiter, has_header): the Census original is tab-separated with a header; re-saved copies
    may be comma-separated without one (the columns then are in the Census order)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except FileNotFoundError:
        raise InputProblem(path, "file", "a readable file", "no such file")
    except UnicodeDecodeError as e:
        raise InputProblem(path, f"byte {e.start}", "UTF-8 text", f"byte 0x{e.object[e.start]:02x}")
    delimiter = "\t" if "\t" in first else ","
    has_header = first.split(delimiter)[0].strip() == "USPS"
    return delimiter, has_header


def read_gazetteer(path):
    """{fips: (lon, lat)} from the internal point of each county."""
    delimiter, has_header = gazetteer_layout(path)
    header, rows = read_table(path, delimiter, has_header)
    if header is None:
        header = GAZETTEER_COLUMNS
    points, first_line = {}, {}
    for row in table_rows(path, header, rows, ("GEOID", "INTPTLAT", "INTPTLONG")):
        get, at, line = row.get, row.at, row.line
        fips = parse_fips(get("GEOID"), path, at("GEOID"))
        lat = parse_required_number(get("INTPTLAT"), path, at("INTPTLAT"))
        lon = parse_required_number(get("INTPTLONG"), path, at("INTPTLONG"))
        if not (-90.0 <= lat <= 90.0):
            raise InputProblem(path, at("INTPTLAT"), "a latitude in [-90, 90]", repr(get("INTPTLAT")))
        if not (-180.0 <= lon <= 180.0):
            raise InputProblem(path, at("INTPTLONG"), "a longitude in [-180, 180]", repr(get("INTPTLONG")))
        add_once(points, fips, (lon, lat), first_line, path, line, "GEOID")
    return points


def read_nri(path):
    header, rows = read_table(path)
    needed = ["STCOFIPS", "POPULATION", "EAL_VALT", "SOVI_RATNG"]
    counties, first_line = {}, {}
    for row in table_rows(path, header, rows, needed):
        get, at, line = row.get, row.at, row.line
        fips = parse_fips(get("STCOFIPS"), path, at("STCOFIPS"))
        rating = get("SOVI_RATNG").strip()
        if rating not in SOVI_TO_RESILIENCE and rating not in SOVI_NO_RATING:
            raise InputProblem(path, at("SOVI_RATNG"),
                               "one of " + ", ".join(list(SOVI_TO_RESILIENCE) + ["Data Unavailable"]),
                               repr(rating))
        record = {
            "population": parse_optional_number(get("POPULATION"), path, at("POPULATION")),
            "eal_total": parse_optional_number(get("EAL_VALT"), path, at("EAL_VALT")),
            "sovi_rating": rating,
        }
        add_once(counties, fips, record, first_line, path, line, "STCOFIPS")
    return counties


def read_broadband(path):
    header, rows = read_table(path)
    columns = {"COUNTY ID": "fips", "BROADBAND AVAILABILITY PER FCC": "availability",
               "BROADBAND USAGE": "usage"}
    counties, first_line = {}, {}
    for row in table_rows(path, header, rows, columns):
        get, at, line = row.get, row.at, row.line
        fips = parse_fips(get("COUNTY ID"), path, at("COUNTY ID"))
        record = {
            "availability": parse_optional_number(get("BROADBAND AVAILABILITY PER FCC"), path,
                                                  at("BROADBAND AVAILABILITY PER FCC")),
            "usage": parse_optional_number(get("BROADBAND USAGE"), path, at("BROADBAND USAGE")),
        }
        add_once(counties, fips, record, first_line, path, line, "COUNTY ID")
    return counties


def read_hospitals(path):
    """({fips: [open hospitals, known beds, open hospitals with unknown beds]}, {status: rows})."""
    header, rows = read_table(path)
    per_county, by_status = {}, {"OPEN": 0, "CLOSED": 0}
    for row in table_rows(path, header, rows, ("STATUS", "COUNTYFIPS", "BEDS")):
        get, at, line = row.get, row.at, row.line
        status = get("STATUS").strip()
        if status not in by_status:
            raise InputProblem(path, at("STATUS"), "OPEN or CLOSED", repr(status))
        by_status[status] += 1
        fips = parse_fips(get("COUNTYFIPS"), path, at("COUNTYFIPS"))
        beds = parse_optional_number(get("BEDS"), path, at("BEDS"))
        if beds is not None and beds < 0:
            raise InputProblem(path, at("BEDS"), "a bed count >= 0 or -999 (unknown)", repr(get("BEDS")))
        if status != "OPEN":
            continue  # closed hospitals give no care
        counts = per_county.setdefault(fips, [0, 0.0, 0])
        counts[0] += 1
        if beds is None:
            counts[2] += 1
        else:
            counts[1] += beds
    return per_county, by_status


def read_gazetteers(paths):
    """{fips: (lon, lat)}; an earlier file wins over a later one (later ones fill gaps)."""
    points, sources = {}, {}
    for path in paths:
        for fips, point in read_gazetteer(path).items():
            if fips not in points:
                points[fips] = point
                sources[fips] = path
    return points, sources


# ---------------------------------------------------------------------------------------------
# Join and features

def base_counties(svi, points):
    """The SVI counties of the 50 states and DC that have coordinates, sorted by FIPS."""
    in_states = sorted(f for f in svi if f[:2] in STATE_FIPS)
    located = [f for f in in_states if f in points]
    return located, sorted(set(svi) - set(in_states)), sorted(set(in_states) - set(located))


def ratio(numerator, denominator, scale=1.0):
    """numerator / denominator * scale; None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator * scale


def resilience_from_sovi(rating):
    """1..5 from NRI's SoVI rating text, inverted (very high vulnerability -> 1); 0 = none."""
    return SOVI_TO_RESILIENCE.get(rating, 0)


def county_row(fips, svi, point, hospitals, nri, broadband, hazard):
    """One output row (column -> value, None = missing)."""
    population, area = svi["population"], svi["area_sqmi"]
    n_open, beds_known, beds_unknown = hospitals if hospitals else (0, 0.0, 0)
    # Beds are missing only when the county has hospitals and none of them reports beds.
    beds = None if n_open > 0 and beds_unknown == n_open else beds_known
    eal_total = nri["eal_total"] if nri else None
    eal_per_capita = ratio(eal_total, nri["population"]) if nri else None
    rating = nri["sovi_rating"] if nri else ""
    row = {
        "FIPS": fips, "STATE": svi["state"], "COUNTY": svi["name"],
        "LON": point[0], "LAT": point[1],
        "E_TOTPOP": population, "AREA_SQMI": area,
        "HOSPITALS": n_open, "HOSPITALS_BEDS_UNKNOWN": beds_unknown, "HOSPITAL_BEDS": beds,
        "HOSPITALS_PER_100K": ratio(n_open, population, 100000.0),
        "BEDS_PER_100K": ratio(beds, population, 100000.0),
        "HOSPITALS_PER_1000_SQMI": ratio(n_open, area, 1000.0),
        "BROADBAND_AVAILABILITY": broadband["availability"] if broadband else None,
        "BROADBAND_USAGE": broadband["usage"] if broadband else None,
        "NRI_POPULATION": nri["population"] if nri else None,
        "EAL_VALT": eal_total, "EAL_PER_CAPITA": eal_per_capita,
        "HAZARD": eal_total if hazard == "eal_total" else eal_per_capita,
        "SOVI_RATNG": rating, "EXTERNAL_RATING": resilience_from_sovi(rating),
    }
    for name in SVI_PERCENT_COLUMNS:
        row[name] = svi[name]
    return row


def unmatched(base, table):
    """(base counties missing from the table, table counties outside the base set), sorted."""
    keys = set(table)
    return sorted(f for f in base if f not in keys), sorted(keys - set(base))


def first_few(fips_list, n=5):
    shown = ", ".join(fips_list[:n])
    return shown + (", ..." if len(fips_list) > n else "") if fips_list else "-"


def report_unmatched(label, path, base, table):
    missing, extra = unmatched(base, table)
    log(f"{label} ({path}): {len(base) - len(missing)} of {len(base)} counties matched; "
        f"without a row: {len(missing)} ({first_few(missing)}); "
        f"rows outside the set: {len(extra)} ({first_few(extra)})")


def join_tables(paths, hazard):
    """Reads and joins every table; returns the sorted rows. Raises InputProblem on bad input."""
    svi = read_svi(paths["svi"])
    points, point_source = read_gazetteers(paths["gazetteers"])
    nri = read_nri(paths["nri"])
    broadband = read_broadband(paths["broadband"])
    hospitals, by_status = read_hospitals(paths["hospitals"])

    base, outside_states, no_point = base_counties(svi, points)
    log(f"SVI ({paths['svi']}): {len(svi)} counties; {len(outside_states)} outside the 50 states "
        f"and DC left out ({first_few(outside_states)}); {len(no_point)} without coordinates in "
        f"any gazetteer left out ({first_few(no_point)})")
    for path in paths["gazetteers"]:
        used = sum(1 for f in base if point_source[f] == path)
        log(f"gazetteer ({path}): coordinates for {used} counties")
    report_unmatched("NRI", paths["nri"], base, nri)
    report_unmatched("broadband", paths["broadband"], base, broadband)

    in_set = [f for f in base if f in hospitals]
    counted = sum(hospitals[f][0] for f in in_set)
    outside = sorted(f for f in hospitals if f not in set(base))
    open_outside = sum(hospitals[f][0] for f in outside)
    unknown_beds = sum(hospitals[f][2] for f in in_set)
    log(f"hospitals ({paths['hospitals']}): {by_status['OPEN']} open, {by_status['CLOSED']} closed "
        f"(excluded); {counted} open hospitals in {len(in_set)} counties of the set "
        f"({unknown_beds} with unknown beds), {open_outside} open in {len(outside)} counties "
        f"outside the set ({first_few(outside)}); {len(base) - len(in_set)} counties have none")

    return [county_row(f, svi[f], points[f], hospitals.get(f), nri.get(f), broadband.get(f), hazard)
            for f in base]


# ---------------------------------------------------------------------------------------------
# Writing

def format_value(value):
    """CSV text: empty for missing, integers without a decimal point, floats as repr."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for row in rows:
        writer.writerow([format_value(row[name]) for name in OUTPUT_COLUMNS])
    return buffer.getvalue()


def read_schema_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise InputProblem(path, "--schema", "a readable schema YAML file", "no such file")


def write_atomically(outputs):
    """Writes {path: text}: every file goes to a temporary name first, then all are renamed, so a
    failure leaves no torn or half-updated output."""
    temps = []
    try:
        for path, text in outputs.items():
            fd, temp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp-",
                                        dir=os.path.dirname(path) or ".")
            temps.append((temp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temp, 0o644)
        for temp, path in temps:
            os.replace(temp, path)
    except BaseException:
        for temp, _ in temps:
            if os.path.exists(temp):
                os.remove(temp)
        raise


def missing_counts(rows):
    return {name: sum(1 for r in rows if r[name] is None) for name in FEATURE_COLUMNS + ["HAZARD"]}


# ---------------------------------------------------------------------------------------------
# Command line

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="build_us_counties.py",
        description="Build DIR/us_counties.csv and DIR/us_counties_schema.yaml (one row per county "
                    "of the 50 states and DC) for `resilinet ingest`.")
    p.add_argument("--data-dir", help="folder with the tables under their published names "
                   "(fills every path not given)")
    p.add_argument("--svi", help=f"CDC/ATSDR SVI 2020 county CSV ({STANDARD_FILES['svi']})")
    p.add_argument("--hospitals", help=f"HIFLD hospitals CSV ({STANDARD_FILES['hospitals']})")
    p.add_argument("--nri", help=f"FEMA NRI county CSV ({STANDARD_FILES['nri']})")
    p.add_argument("--broadband", help=f"broadband usage CSV ({STANDARD_FILES['broadband']})")
    p.add_argument("--gazetteer", action="append",
                   help=f"Census county Gazetteer ({STANDARD_FILES['gazetteer']}); repeat to add "
                   f"fallbacks for counties the first one lacks (e.g. {FALLBACK_GAZETTEER})")
    p.add_argument("--hazard", choices=HAZARD_CHOICES, default="eal_per_capita",
                   help="hazard column: NRI expected annual loss per resident (default) or in total ($/yr)")
    p.add_argument("--schema", default=DEFAULT_SCHEMA, help="schema YAML copied next to the CSV "
                   "(default: the one beside this script)")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    return p.parse_args(argv)


def resolve_paths(args):
    paths = {}
    for key in ("svi", "hospitals", "nri", "broadband"):
        path = getattr(args, key)
        if path is None and args.data_dir:
            path = os.path.join(args.data_dir, STANDARD_FILES[key])
        if path is None:
            raise InputProblem("command line", f"--{key}", "a path (or --data-dir)", "nothing")
        paths[key] = path
    gazetteers = list(args.gazetteer or [])
    if not gazetteers and args.data_dir:
        gazetteers = [os.path.join(args.data_dir, STANDARD_FILES["gazetteer"])]
        fallback = os.path.join(args.data_dir, FALLBACK_GAZETTEER)
        if os.path.exists(fallback):
            gazetteers.append(fallback)
    if not gazetteers:
        raise InputProblem("command line", "--gazetteer", "a path (or --data-dir)", "nothing")
    paths["gazetteers"] = gazetteers
    return paths


def check_output_dir(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputProblem(out, "--out", "a folder", "a file")


def build(args):
    paths = resolve_paths(args)
    check_output_dir(args.out)
    schema_text = read_schema_text(args.schema)
    rows = join_tables(paths, args.hazard)
    if not rows:
        raise InputProblem(paths["svi"], "FIPS", "at least one county of the 50 states and DC "
                           "with coordinates", "none")
    text = csv_text(rows)

    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "us_counties.csv")
    schema_path = os.path.join(args.out, "us_counties_schema.yaml")
    write_atomically({csv_path: text, schema_path: schema_text})

    missing = missing_counts(rows)
    log("missing values: " + ", ".join(f"{k} {v}" for k, v in missing.items()))
    rated = sum(1 for r in rows if r["EXTERNAL_RATING"] > 0)
    log(f"external rating (from SOVI_RATNG, evaluation only) for {rated} of {len(rows)} counties")
    log(f"wrote {csv_path} ({len(rows)} counties in {len(set(r['STATE'] for r in rows))} states) "
        f"and {schema_path}; hazard = {args.hazard}")


def main(argv=None):
    args = parse_args(argv)
    try:
        build(args)
    except InputProblem as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: {e.filename or args.out}: file: expected an accessible file or folder, "
              f"got {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
