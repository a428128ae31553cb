#!/usr/bin/env bash
# The variants table (`resilinet bench --variants configs/variants/*.yaml`) on the default synthetic
# data and, when the public tables are present, on all US counties. Writes the tables to
# bench/variants/ (checked in as examples). A benchmark, not a test.
#
#   bench/run_variants_table.sh [BUILD_DIR]     (default: build next to this folder)
#   env: WHICH ("default counties"), SEEDS (3), JOBS (1), THREADS (0 = cores / jobs),
#        DATA (the public tables, default ../shared/data), WORK (scratch, kept; finished runs are reused)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/resilinet
[[ -x $bin ]] || { echo "missing $bin: build the resilinet target" >&2; exit 1; }
tables=${DATA:-$root/../shared/data}
work=${WORK:-${TMPDIR:-/tmp}/resilinet-variants}
mkdir -p "$work" "$root/bench/variants"
cd "$root"  # variant files by their paths in the project, as the tables show them
common=(--seeds "${SEEDS:-3}" --jobs "${JOBS:-1}" --threads "${THREADS:-0}")
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$root" rev-parse --short HEAD)"
for which in ${WHICH:-default counties}; do
  case $which in
    default)
      [[ -f $work/default/part-00000.h5 ]] || "$bin" synth --quiet --out "$work/default"
      "$bin" bench --variants configs/variants/*.yaml --data "$work/default/*.h5" --out "$work/bench-default" "${common[@]}"
      ;;
    counties)
      if [[ ! -f $tables/SVI2020_US_COUNTY.csv ]]; then echo "no $tables/SVI2020_US_COUNTY.csv: counties skipped"; continue; fi
      if [[ ! -d $work/counties ]]; then
        /usr/bin/python3 "$root/datasets/us_counties/build_us_counties.py" --data-dir "$tables" --out "$work/counties-table" 2>"$work/build.log"
        "$bin" ingest --quiet --csv "$work/counties-table/us_counties.csv" --schema "$work/counties-table/us_counties_schema.yaml" --out "$work/counties"
      fi
      "$bin" bench --variants configs/variants/*.yaml --config configs/us_counties.yaml --data "$work/counties/*.h5" \
        --out "$work/bench-counties" "${common[@]}"
      ;;
    *) echo "unknown WHICH entry: $which" >&2; exit 2 ;;
  esac
  cp "$work/bench-$which/variants.md" "$root/bench/variants/$which.md"
  cp "$work/bench-$which/variants.csv" "$root/bench/variants/$which.csv"
  cp "$work/bench-$which/variants.json" "$root/bench/variants/$which.json"
done
