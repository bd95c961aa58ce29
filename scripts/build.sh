#!/usr/bin/env bash
# Builds dist/: agentd (compiled with bun, never stripped: stripping removes the app), the static
# exec helper agentd-exec, agentctl and the relay's splice loop agentctl-splice. The C programs
# are linked statically against musl (musl-tools): every exec session starts agentd-exec first,
# and under TCG the static glibc build's start-up made each one ~2-5 ms slower (guest loops of
# `agentd-exec -- true`), at 14x the size (772 KiB against 54 KiB).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
mkdir -p dist
CC=${CC:-musl-gcc}
command -v "$CC" >/dev/null || { echo "build: no C compiler ($CC); install musl-tools" >&2; exit 1; }
"$CC" -static -Os -Wall -Wextra -Werror -o dist/agentd-exec init/exec-helper.c
"$CC" -static -Os -Wall -Wextra -Werror -o dist/init init/init.c
# The relay's data path on the host (src/host/vm/relay-splice.c; see relay.ts).
"$CC" -static -Os -Wall -Wextra -Werror -o dist/agentctl-splice src/host/vm/relay-splice.c
COMPILE=(build --compile --no-compile-autoload-dotenv --no-compile-autoload-bunfig --bytecode)
# --smol: the collector runs more often, which keeps agentd near its RSS budget under bulk I/O.
AGENTD_FLAGS=(--compile-exec-argv=--smol)
# The port reader (it polls the output pipes too) runs in a Worker; a compiled binary only has it
# when it is an entry point too.
"$BUN" "${COMPILE[@]}" "${AGENTD_FLAGS[@]}" agentd/main.ts src/agent/port/reader-worker.ts --outfile dist/agentd >/dev/null
"$BUN" "${COMPILE[@]}" src/host/cli/main.ts --outfile dist/agentctl >/dev/null
# `build.sh bench`: also the benchmark's ready floor (bench/ready-floor), built as agentd is.
if [ "${1:-}" = bench ]; then
  "$BUN" "${COMPILE[@]}" "${AGENTD_FLAGS[@]}" bench/ready-floor/main.ts src/agent/port/reader-worker.ts --outfile dist/ready-floor >/dev/null
fi
echo "build: dist/agentd dist/agentd-exec dist/agentctl dist/agentctl-splice"
