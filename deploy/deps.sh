#!/bin/sh
# Installs the Debian packages ccroute needs to build, test and run the demo
# (or, given package names as arguments, those: deploy/deps-fuzz.sh). Run as
# root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.
#
#   deploy/deps.sh [PACKAGE...]
set -eu

PKGS="build-essential pkg-config libuv1-dev libhiredis-dev protobuf-c-compiler
libprotobuf-c-dev libjemalloc-dev libyaml-dev libssl-dev openssl libcmocka-dev
libh2o-dev libjansson-dev libicu-dev xxd redis-server redis-tools redis-sentinel
gnuplot-nox prometheus chromium chromium-driver curl"
[ $# -gt 0 ] && PKGS="$*"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "ccroute: missing Debian packages:$missing"
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
