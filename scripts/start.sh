#!/usr/bin/env bash
# The main job: installs what is missing, builds agentd and the guest image when they are out of
# date, boots the default guest in QEMU, runs the given command in it through agentd, and powers
# the guest off. Usage: npm start -- CMD [ARGS...]   (default: uname -a)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/bun ] || { echo "start: run 'npm ci' first" >&2; exit 1; }
bash scripts/deps.sh build vm
bash scripts/build.sh >&2
[ $# -gt 0 ] || set -- uname -a
exec dist/agentctl vm run -- "$@"
