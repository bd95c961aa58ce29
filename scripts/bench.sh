#!/usr/bin/env bash
# The benchmark: builds what is missing and runs the host-mode benchmark (numbers, no asserts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
bash scripts/build.sh
node_modules/.bin/bun bench/host.ts
