#!/usr/bin/env bash
# The main job on the built-in default data: synthesise the default region, train, rate, explain,
# run the example what-if scenarios, report.
# Run from anywhere after building into ./build (see README). Outputs go to data/default and runs/default.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/resilinet
rm -rf data/default
$bin synth --out data/default
$bin inspect data/default
$bin train --config configs/default.yaml --overwrite
$bin rate --checkpoint runs/default/checkpoint.h5 --data 'data/default/*.h5' --out runs/default/ratings
$bin explain --checkpoint runs/default/checkpoint.h5 --data 'data/default/*.h5' --out runs/default/explain
$bin scenario --checkpoint runs/default/checkpoint.h5 --data 'data/default/*.h5' \
  --scenario configs/scenarios/example.yaml --out runs/default/scenarios
$bin report --checkpoint runs/default/checkpoint.h5 --data 'data/default/*.h5' --out runs/default/report \
  --metrics runs/default/metrics.json --explain runs/default/explain/explain_summary.json \
  --scenarios runs/default/scenarios/scenario_summary.json
echo "demo: metrics in runs/default/metrics.json, ratings in runs/default/ratings, explanations in runs/default/explain,"
echo "      scenarios in runs/default/scenarios,"
echo "      report in runs/default/report/report.html"
