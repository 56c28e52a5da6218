#!/bin/sh
# Installs what `make fuzz` needs on top of deploy/deps.sh: clang and
# libFuzzer's runtime (libclang_rt.fuzzer, in Debian's libclang-rt-N-dev,
# which clang-N only recommends, so a --no-install-recommends install of
# clang lacks it). Run as root it installs what is missing with apt-get;
# otherwise it prints the exact command to run and fails.
#
# FUZZ_CLANG_VERSION (default 14, Debian 12's clang) picks the clang-N
# package; `make fuzz FUZZ_CLANG_VERSION=N` passes it here and builds with
# clang-N.
set -eu

V=${FUZZ_CLANG_VERSION:-14}
PKGS="clang-$V libclang-rt-$V-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "ccroute: missing Debian packages for make fuzz:$missing"
if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    echo "ccroute: run this as root, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
