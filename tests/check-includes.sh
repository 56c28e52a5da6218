#!/bin/sh
# tests/check-includes.sh [DIR] -- prints the include graph of DIR
# (default engine/) between its modules and fails on a circle.
#
# A module is X.c with X.h; a type header X-t.h is a node of its own
# (STYLE.md lesson 2: that is what breaks circles). Only includes of
# headers that live in DIR count. Two rules are checked:
#   1. no circle between modules (tsort finds loops);
#   2. a type header (-t.h) includes only type headers.
# Exit 0 when both hold, 1 otherwise.
set -u
dir=${1:-engine}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
status=0

for f in "$dir"/*.c "$dir"/*.h; do
    from=$(basename "$f")
    from=${from%.c}
    from=${from%.h}
    sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f" | while read -r to; do
        [ -f "$dir/$to.h" ] || continue
        [ "$to" = "$from" ] && continue
        echo "$from $to"
    done
done | sort -u > "$tmp"

echo "include graph of $dir/ (module -> modules it includes):"
awk '{ e[$1] = e[$1] " " $2 } END { for (m in e) print "  " m " ->" e[m] }' \
    "$tmp" | sort

awk '$1 ~ /-t$/ && $2 !~ /-t$/ { print "  type header " $1 ".h includes " \
    $2 ".h"; bad = 1 } END { exit bad }' "$tmp" || status=1

if ! tsort "$tmp" > /dev/null 2> "$tmp.err"; then
    echo "circle:"
    sed 's/^/  /' "$tmp.err"
    status=1
fi
rm -f "$tmp.err"
[ $status -eq 0 ] && echo "no circle; type headers include only type headers"
exit $status
