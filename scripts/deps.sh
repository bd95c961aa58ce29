#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those that are missing, so a
# fresh machine works with the README's commands alone. Usage: deps.sh [build|vm|test]...
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need+=("$p"); done; }

# musl-tools: agentd-exec and init are linked statically against musl (see build.sh).
want gcc libc6-dev musl-tools
for what in "$@"; do
  case "$what" in
    build) ;;
    vm) want qemu-system-x86 qemu-utils cpio patchelf e2fsprogs buildah ;;
    # pgrep/pkill and script(1) for the terminal tests of agentctl.
    test) want procps bsdutils ;;
    *) echo "deps: unknown set '$what'" >&2; exit 2 ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
