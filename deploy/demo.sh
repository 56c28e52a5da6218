#!/bin/bash
# The `make run` demo: a private redis-server on 127.0.0.1:6390, ccrouted on
# 127.0.0.1:7400 with deploy/demo.yaml, and ccload playing
# bench/scenarios/demo.yaml against it for DEMO_SECONDS (default 60).
# ccload and ccstat present the demo tokens of deploy/demo-tokens/.
# Everything it starts is stopped when it ends or on Ctrl-C.
#
#   deploy/demo.sh [BUILD_DIR]
set -eu

B=${1:-build}
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
REDIS_PORT=6390
ENGINE_PORT=7400
WORK=$(mktemp -d /tmp/ccroute-demo.XXXXXX)
redis_pid=""
engine_pid=""

cleanup() {
    trap - EXIT INT TERM
    [ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null && wait "$engine_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until "$@" succeeds, at most $1 tenths of a second.
wait_for() {
    n=$1; shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        if [ $n -le 0 ]; then return 1; fi
        sleep 0.1
    done
}

for port in $REDIS_PORT $ENGINE_PORT; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "demo: port $port on 127.0.0.1 is already in use; stop what uses it" >&2
        exit 1
    fi
done 2>/dev/null

echo "demo: starting redis-server on 127.0.0.1:$REDIS_PORT (data in $WORK)"
redis-server deploy/redis.conf --port $REDIS_PORT --dir "$WORK" \
    --daemonize no --logfile "$WORK/redis.log" &
redis_pid=$!
if ! wait_for 100 redis-cli -p $REDIS_PORT ping; then
    echo "demo: redis-server did not start; see $WORK/redis.log" >&2
    exit 1
fi

# The demo's tokens (demo values only, docs/security.md): private copies,
# readable by this user alone, as a real deployment keeps its tokens.
install -m 600 deploy/demo-tokens/ccload.token "$WORK/ccload.token"
install -m 600 deploy/demo-tokens/monitor.token "$WORK/monitor.token"

echo "demo: starting ccrouted on 127.0.0.1:$ENGINE_PORT with deploy/demo.yaml"
"$B/ccrouted" --config deploy/demo.yaml --port-file "$WORK/port" &
engine_pid=$!
if ! wait_for 100 test -s "$WORK/port"; then
    echo "demo: ccrouted did not start listening" >&2
    exit 1
fi

echo "demo: playing bench/scenarios/demo.yaml for ${SECONDS_TO_RUN}s (Ctrl-C stops)"
"$B/ccload" --model bench/scenarios/demo.yaml --duration "$SECONDS_TO_RUN" \
    --drain 3 --token-file "$WORK/ccload.token" 127.0.0.1:$ENGINE_PORT
echo
echo "demo: the engine's statistics ($B/ccstat --token-file ... 127.0.0.1:$ENGINE_PORT):"
# Every contact of the demo traffic has agents that can serve it; a
# contact that none could is a broken demo, and fails `make run`.
"$B/ccstat" --fail-unservable --token-file "$WORK/monitor.token" \
    127.0.0.1:$ENGINE_PORT
echo
echo "demo: done; Redis keys of the demo tenant:" \
    "$(redis-cli -p $REDIS_PORT --scan --pattern 'ccr:{demo}:*' | wc -l)," \
    "events in the stream: $(redis-cli -p $REDIS_PORT xlen 'ccr:{demo}:events')"
