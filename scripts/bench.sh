#!/usr/bin/env bash
# The benchmark: builds what is missing, then measures agentd in host mode (Unix socket) and in
# the guest (TCG, virtio-serial, next to the raw port in the same run). Numbers, no asserts;
# tables on stdout, bench-host.json and bench-vm.json beside package.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build vm
bash scripts/build.sh bench
node_modules/.bin/bun bench/host.ts
node_modules/.bin/bun bench/vm.ts
