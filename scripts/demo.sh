#!/usr/bin/env bash
# The main job on the built-in default data. Extended as commands land.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/resilinet --version
