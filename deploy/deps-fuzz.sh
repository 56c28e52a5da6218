#!/bin/sh
# Installs what `make fuzz` needs on top of deploy/deps.sh: clang and
# libFuzzer's runtime (libclang_rt.fuzzer, in Debian's libclang-rt-N-dev,
# which clang-N only recommends, so a --no-install-recommends install of
# clang lacks it). deploy/deps.sh does the work: as root it installs what
# is missing with apt-get; otherwise it prints the exact command and fails.
#
# FUZZ_CLANG_VERSION (default 14, Debian 12's clang) picks the clang-N
# package; `make fuzz FUZZ_CLANG_VERSION=N` passes it here and builds with
# clang-N.
set -eu

V=${FUZZ_CLANG_VERSION:-14}
exec "$(dirname "$0")/deps.sh" "clang-$V" "libclang-rt-$V-dev"
