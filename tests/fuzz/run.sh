#!/bin/sh
# Runs every libFuzzer harness of a fuzz build for a bounded time, one after
# the other, and fails if any of them finds a crash, a leak, a timeout or an
# out-of-memory. See tests/fuzz/README.md.
#
#   tests/fuzz/run.sh [BUILD_DIR [SECONDS]]     (make fuzz FUZZ_SECONDS=N)
#
# Each harness starts from a scratch corpus in BUILD_DIR/fuzz-run/<harness>/
# (wiped first): the committed seeds of tests/fuzz/corpus/<harness>/, the
# generated ones (BUILD_DIR/fuzz/seeds) and, for the YAML harnesses, the
# shipped files. New inputs that libFuzzer keeps go there, never into the
# tree. Reproducers of what a harness finds are left in
# BUILD_DIR/fuzz-run/<harness>/artifacts/ and named in the output. Before
# fuzzing, each file of tests/fuzz/crashes/<harness>/ is replayed once: a
# reproducer committed there fails the run until its bug is fixed.
set -u

B=${1:-build-fuzz}
SECS=${2:-${FUZZ_SECONDS:-60}}
# One input taking longer than this is a finding (a sanitized build is
# slow, but no harness needs more than milliseconds per input).
PER_INPUT_TIMEOUT=${FUZZ_TIMEOUT:-10}
SRC=$(dirname "$0")
RUN=$B/fuzz-run

rm -rf "$RUN"
mkdir -p "$RUN"
if ! "$B/fuzz/seeds" "$RUN/seeds"; then
    echo "fuzz: the seed generator failed" >&2
    exit 1
fi

# YAML syntax for the dictionaries of the YAML harnesses; the keys come from
# the seed files themselves, so that a key added to the loader and to a
# shipped file reaches the dictionary without editing this script.
yaml_dict() {
    cat <<'EOF'
"---"
"..."
"- "
": "
"{"
"}"
"["
"]"
", "
"#"
"&a "
"*a"
"? "
"|"
">"
"!!str "
"!!int "
"\""
"'"
"~"
"null"
"true"
"false"
"0x"
"1e9"
"-1"
".nan"
".inf"
"\x0a  "
EOF
    cat "$@" 2>/dev/null | grep -oE '[A-Za-z_][A-Za-z0-9_]*:' | sort -u |
        sed 's/.*/"&"/'
}

failed=""
summary=""

for bin in "$B"/fuzz/fuzz-*; do
    [ -x "$bin" ] || continue
    h=$(basename "$bin")
    dir=$RUN/$h
    mkdir -p "$dir/corpus" "$dir/artifacts"

    # Every shipped YAML file seeds both YAML harnesses: a model is an
    # interesting wrong input for the config loader, and the other way.
    shipped=""
    case $h in
    fuzz-config|fuzz-model)
        shipped=$(ls deploy/*.yaml tests/fixtures/*.yaml bench/scenarios/*.yaml \
                  2>/dev/null) ;;
    esac
    # Named after their path: deploy/demo.yaml and bench/scenarios/demo.yaml
    # are two seeds.
    for f in "$SRC/corpus/$h"/* "$RUN/seeds/$h"/* $shipped; do
        [ -f "$f" ] && cp "$f" "$dir/corpus/$(printf '%s' "$f" | sed 's|^\./||; s|/|_|g')"
    done
    dict=""
    if [ -n "$shipped" ]; then
        yaml_dict "$dir"/corpus/* > "$dir/dict"
        dict="-dict=$dir/dict"
    fi
    nseeds=$(find "$dir/corpus" -type f | wc -l)

    echo "=== $h: $nseeds seeds, ${SECS}s"

    # Known reproducers first: each file runs once.
    replay_failed=0
    if ls "$SRC/crashes/$h"/* >/dev/null 2>&1; then
        if ! "$bin" -timeout="$PER_INPUT_TIMEOUT" "$SRC/crashes/$h"/* \
                > "$dir/replay.log" 2>&1; then
            echo "--- $h: a committed reproducer in $SRC/crashes/$h still fails:"
            grep -E "^(==|SUMMARY|Running:|.*contract broken)" "$dir/replay.log" | head -20
            echo "    log: $dir/replay.log"
            replay_failed=1
        fi
    fi

    # shellcheck disable=SC2086
    timeout -k 10 $((SECS + 120)) "$bin" -max_total_time="$SECS" \
        -timeout="$PER_INPUT_TIMEOUT" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" $dict \
        "$dir/corpus" > "$dir/fuzz.log" 2>&1
    rc=$?

    last=$(grep -E '^#[0-9]+.*cov:' "$dir/fuzz.log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log")
    cov=$(printf '%s' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s' "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
    artifacts=$(ls "$dir/artifacts" 2>/dev/null)

    result=ok
    if [ "$replay_failed" -ne 0 ]; then
        result="FAIL (crashes/)"
    fi
    if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
        result=FAIL
        echo "--- $h FAILED (exit $rc); the end of its log ($dir/fuzz.log):"
        tail -n 40 "$dir/fuzz.log"
        for a in $artifacts; do
            echo "    reproducer: $dir/artifacts/$a"
            echo "    replay:     $bin $dir/artifacts/$a"
        done
    fi
    [ "$result" = ok ] || failed="$failed $h"
    summary="$summary$(printf '%-14s %10s %9s %6s %7s %7s  %s' "$h" \
        "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "$result")
"
done

echo
printf '%-14s %10s %9s %6s %7s %7s  %s\n' harness execs exec/s cov ft corpus result
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed"
    exit 1
fi
echo "fuzz: no crash, leak or timeout in ${SECS}s per harness"
