#!/usr/bin/env bash
# Builds dist/: agentd (compiled with bun, never stripped: stripping removes the app), the static
# exec helper agentd-exec, and agentctl. Needs a C compiler with a static libc (gcc + libc6-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
mkdir -p dist
CC=${CC:-gcc}
command -v "$CC" >/dev/null || { echo "build: no C compiler ($CC); install gcc" >&2; exit 1; }
"$CC" -static -Os -Wall -Wextra -Werror -o dist/agentd-exec init/exec-helper.c
"$CC" -static -Os -Wall -Wextra -Werror -o dist/init init/init.c
COMPILE=(build --compile --no-compile-autoload-dotenv --no-compile-autoload-bunfig --bytecode)
# --smol: the collector runs more often, which keeps agentd near its RSS budget under bulk I/O.
AGENTD_FLAGS=(--compile-exec-argv=--smol)
# The port reader (it polls the output pipes too) runs in a Worker; a compiled binary only has it
# when it is an entry point too.
"$BUN" "${COMPILE[@]}" "${AGENTD_FLAGS[@]}" agentd/main.ts src/agent/port/reader-worker.ts --outfile dist/agentd >/dev/null
"$BUN" "${COMPILE[@]}" src/host/cli/main.ts --outfile dist/agentctl >/dev/null
echo "build: dist/agentd dist/agentd-exec dist/agentctl"
