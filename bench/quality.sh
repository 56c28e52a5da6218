#!/usr/bin/env bash
# bench/quality.sh [BUILD_DIR] [OUT_DIR] -- reproduces bench/README.md,
# "Routing quality pays": the multi-skill day of
# bench/scenarios/quality-day.yaml under plain routing (quality-plain.yaml),
# the engine's step alone (quality-steps.yaml) and its strategies with the
# step (quality-engine.yaml), each pair on the same random traffic
# (`ccsim --compare`, common random numbers), then the engine's routing
# with a predictive campaign blended with every queue (quality-blend.yaml)
# or with its own queue alone (quality-blend-mobile.yaml), against the
# same day without it (`--no-outbound`). RUNS runs each (default 10).
# Writes the text reports and the service-level charts into OUT_DIR
# (default bench/results/tmp/quality). Simulated time: seconds of CPU.
set -euo pipefail
B=${1:-build}
OUT=${2:-bench/results/tmp/quality}
RUNS=${RUNS:-10}
S=bench/scenarios
CCSIM=$B/ccsim
[ -x "$CCSIM" ] || { echo "quality.sh: $CCSIM not built (make)" >&2; exit 1; }
mkdir -p "$OUT"

run() { # run NAME ARGS...: ccsim ARGS > OUT/NAME.txt, the command logged
    local name=$1; shift
    echo "+ $CCSIM $* --runs $RUNS" | tee "$OUT/$name.txt"
    "$CCSIM" "$@" --runs "$RUNS" >> "$OUT/$name.txt"
}

run plain-vs-steps --compare $S/quality-plain.yaml $S/quality-steps.yaml \
    --traffic $S/quality-day.yaml
run plain-vs-engine --compare $S/quality-plain.yaml $S/quality-engine.yaml \
    --traffic $S/quality-day.yaml
run engine-no-campaign --config $S/quality-engine.yaml \
    --traffic $S/quality-blend.yaml --no-outbound
run engine-blend-all --config $S/quality-engine.yaml \
    --traffic $S/quality-blend.yaml
run engine-blend-mobile --config $S/quality-engine.yaml \
    --traffic $S/quality-blend-mobile.yaml
run plain-plot --config $S/quality-plain.yaml --traffic $S/quality-day.yaml \
    --plot "$OUT/plain"
run engine-plot --config $S/quality-engine.yaml \
    --traffic $S/quality-day.yaml --plot "$OUT/engine"
echo "quality.sh: reports and charts in $OUT (service-level.png under" \
     "$OUT/plain and $OUT/engine)"
