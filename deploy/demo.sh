#!/bin/bash
# The `make run` demo: a private redis-server on 127.0.0.1:6390, ccrouted on
# 127.0.0.1:7400 with deploy/demo.yaml, and ccload playing
# bench/scenarios/demo.yaml against it for DEMO_SECONDS (default 60).
# ccload and ccstat present the demo tokens of deploy/demo-tokens/.
# Near the end of the traffic it takes a screenshot of the wallboard
# (http://127.0.0.1:7401/, docs/http.md) with headless Chromium driven by
# chromedriver, open since the traffic began so that its chart has the
# run, and prints the PNG's path ($B/demo-wallboard.png); without
# chromium, chromedriver or curl it says so and carries on.
# Everything it starts is stopped when it ends or on Ctrl-C.
#
#   deploy/demo.sh [BUILD_DIR]
set -eu

B=${1:-build}
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
REDIS_PORT=6390
ENGINE_PORT=7400
HTTP_PORT=7401
SHOT="$B/demo-wallboard.png"
WORK=$(mktemp -d /tmp/ccroute-demo.XXXXXX)
redis_pid=""
engine_pid=""
wd_pid=""
wd_url=""
shot_pid=""

cleanup() {
    trap - EXIT INT TERM
    # a stopped process's status (chromedriver's after SIGTERM is not 0)
    # must not end the cleanup half-way under set -e
    set +e
    [ -n "$shot_pid" ] && kill "$shot_pid" 2>/dev/null && wait "$shot_pid" 2>/dev/null
    [ -n "$wd_url" ] && curl -s -m 5 -X DELETE "$wd_url" >/dev/null 2>&1
    [ -n "$wd_pid" ] && kill "$wd_pid" 2>/dev/null && wait "$wd_pid" 2>/dev/null
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

# The wallboard in headless Chromium through chromedriver's WebDriver
# API (plain `chromium --screenshot` shoots at the page's load event,
# before the first snapshot of the event stream has arrived).
wd() { # METHOD PATH [JSON]: prints WebDriver's answer
    curl -s -m 30 -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$wd_url$2"
}
wallboard_open() {
    for tool in chromium chromedriver curl base64; do
        if ! command -v $tool >/dev/null 2>&1; then
            echo "demo: no $tool here (deploy/deps.sh installs it); no wallboard screenshot"
            return 1
        fi
    done
    wd_port=$(( (RANDOM % 20000) + 30000 ))
    chromedriver --port=$wd_port >"$WORK/chromedriver.log" 2>&1 &
    wd_pid=$!
    wd_url="http://127.0.0.1:$wd_port"
    if ! wait_for 100 curl -s -m 1 "$wd_url/status"; then
        echo "demo: chromedriver did not start; no wallboard screenshot"
        wd_url=""
        return 1
    fi
    session=$(wd POST /session '{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--window-size=1920,1080"]}}}}' |
        sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
    if [ -z "$session" ]; then
        echo "demo: chromium did not start; no wallboard screenshot"
        wd_url=""
        return 1
    fi
    wd_url="$wd_url/session/$session"
    wd POST /url "{\"url\":\"http://127.0.0.1:$HTTP_PORT/\"}" >/dev/null
}
wallboard_shot() {
    wd GET /screenshot | sed -e 's/^{"value":"//' -e 's/"}$//' |
        base64 -d >"$SHOT.tmp" 2>/dev/null && [ -s "$SHOT.tmp" ] &&
        mv "$SHOT.tmp" "$SHOT"
}
rm -f "$SHOT"
if wallboard_open; then
    # two seconds before the traffic ends, while the queues are busy
    ( sleep $(( SECONDS_TO_RUN > 3 ? SECONDS_TO_RUN - 2 : 1 )); wallboard_shot ) &
    shot_pid=$!
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
if [ -n "$shot_pid" ]; then
    wait "$shot_pid" 2>/dev/null || true
    shot_pid=""
fi
echo
if [ -s "$SHOT" ]; then
    echo "demo: the wallboard (http://127.0.0.1:$HTTP_PORT/) near the end of the traffic: $SHOT"
elif [ -n "$wd_url" ]; then
    echo "demo: the wallboard screenshot failed; see $WORK/chromedriver.log"
fi
echo "demo: done; Redis keys of the demo tenant:" \
    "$(redis-cli -p $REDIS_PORT --scan --pattern 'ccr:{demo}:*' | wc -l)," \
    "journal entries (one per write batch; build/ccjournal -p $REDIS_PORT -t demo prints the events):" \
    "$(redis-cli -p $REDIS_PORT xlen 'ccr:{demo}:journal')"
