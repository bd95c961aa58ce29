#!/usr/bin/env bash
# Builds the client library package in packages/client: one ESM bundle for Node (≥ 20) and Bun,
# and .d.ts files with their JSDoc. `npm pack` in packages/client then gives the package.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=packages/client
rm -rf "$PKG/dist"
node_modules/.bin/bun build src/host/index.ts --target=node --format=esm --outfile "$PKG/dist/index.js" >/dev/null
node_modules/.bin/tsc -p "$PKG"
# Declarations keep the sources' "./x.ts" specifiers; consumers resolve "./x.js" to "./x.d.ts".
find "$PKG/dist/types" -name '*.d.ts' -exec sed -i -E 's#(from "\.{1,2}/[^"]*)\.ts"#\1.js"#g' {} +
echo "build-client: $PKG/dist"
