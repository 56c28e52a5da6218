#!/usr/bin/env bash
# bench/run.sh BUILD_DIR -- the benchmark suite (what `make bench` runs).
#
# Phases, each one independent: a phase whose program is missing or fails
# is recorded as skipped, with the reason, and the run goes on, so that the
# suite always completes and always writes its results.
#
#   1. machine     CPU model, cores, kernel, compiler, date, git commit
#   2. router      BUILD/bench-router: the routing core in process, with its
#                  own baseline (a trivial in-memory routing loop)
#   3. e2e         a private redis-server on a free loopback port, then
#                  BUILD/ccload driving, one after the other:
#                    limit     BUILD/limit-server (decode, fixed reply)
#                    noredis   BUILD/ccrouted, no Redis at all
#                    memory    BUILD/ccrouted, durability: memory
#                    redis     BUILD/ccrouted, durability: redis
#                    lua       BUILD/lua-server + Redis Lua router
#                  each: the maximum sustained rate (ccload --max-rate), then
#                  fixed rates at 25%, 50% and 90% of it (p50/p99/p99.9;
#                  quick: 50% only).
#   3c. cpu        CPU per contact at fixed rates (10,000/s, 100/s) of
#                  limit-server, ccrouted without Redis and with
#                  durability redis (redis.layout hashes, then journal:
#                  redis_journal), and of Redis (ccload --cpu)
#   3b. close      BUILD/bench-close: 10,000 agent desks dropping at once,
#                  time until the loop answers a Ping (median of 3 runs)
#   3c. recovery   BUILD/bench-recovery: a tenant of 100,000 waiting
#                  contacts and 10,000 agents restarted from its own
#                  redis-server: time to serving, Redis commands and CPU of
#                  the load, the loop's longest stall, the full-state
#                  rewrite (median of 3 starts; quick: 1)
#   3e. ccsim      BUILD/ccsim: a simulated day (bench/scenarios/
#                  ccsim-day.yaml, about 50,000 contacts, 500 agents, 24 h)
#                  against engine-bench.yaml: wall time of the whole
#                  command, simulated contacts per second (median of 3);
#                  then the same day with a predictive outbound campaign
#                  (ccsim-blend.yaml)
#   3f. erlang     BUILD/bench-erlang: the simulator against Erlang C (c from
#                  1 to 200, occupancy 50% to 95%) and Erlang A, the table
#                  of differences with 95% half-widths (quick: a third of
#                  the grid, shorter runs)
#   3d. cost       Redis CPU (INFO cpu) per contact at one fixed rate
#                  (BENCH_COST_RATE, default 10000/s) for durability
#                  memory and redis, on the private redis-server of 3;
#                  both again with redis.layout journal (memory_journal,
#                  redis_journal), same run.
#   3g. scale      several engines, one per core, each on its own tenant,
#                  against one: bench-router --threads N (in process) and
#                  N ccrouted each under its own ccload --max-rate at once
#                  (no Redis; durability memory on one redis-server),
#                  N = cores (BENCH_SCALE_N)
#   4. results     bench/results/latest.json and a timestamped copy,
#                  bench/results/latest.md (the table for bench/README.md)
#
# Environment:
#   BENCH_QUICK=1        about one minute instead of about five
#   BENCH_DURATION=S     seconds of each fixed-rate run (default 5, quick 3)
#   BENCH_ONLY=LIST      phases to run, e.g. "router" or "limit memory"
#   BENCH_CPU_RATES=LIST fixed rates of the cpu phase (default "10000 100")
#   BENCH_SCALE_N=N      engines of the scale phase (default: the cores)
#
# Needs: bash, coreutils (timeout), awk, sed, redis-server, redis-cli.
# No jq and no python: JSON is written with printf and read with sed.
set -u

B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $B in /*) ;; *) B=$PWD/$B ;; esac
cd "$ROOT" || exit 1
RES=$ROOT/bench/results
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
if [ -n "$QUICK" ]; then
    DUR=${BENCH_DURATION:-3}
    MAXDUR=2
    PCTS="50"
    ROUTER_BUDGET=25
else
    DUR=${BENCH_DURATION:-5}
    MAXDUR=4
    PCTS="25 50 90"
    ROUTER_BUDGET=110
fi
ONLY=${BENCH_ONLY:-}

mkdir -p "$RES/tmp"
TMP=$(mktemp -d "$RES/tmp/run.XXXXXX")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PIDS=""

log() { printf 'bench: %s\n' "$*" >&2; }

cleanup() {
    for p in $PIDS; do
        kill "$p" 2>/dev/null
    done
    sleep 0.2
    for p in $PIDS; do
        kill -9 "$p" 2>/dev/null
    done
    PIDS=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# JSON helpers -------------------------------------------------------------

jstr() {   # a shell string as a JSON string
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
        | tr '\t\r\n' '   ')"
}
# jfirst FILE KEY: the first number after "KEY": in FILE (empty if none)
jfirst() {
    [ -f "$1" ] || return 0
    grep -o "\"$2\"[[:space:]]*:[[:space:]]*-\\{0,1\\}[0-9][0-9.eE+-]*" "$1" \
        | head -n 1 | sed 's/.*:[[:space:]]*//'
}
# max_rate_of FILE: ccload's "max_rate": {"window": W, "rate": R}
max_rate_of() {
    [ -f "$1" ] || return 0
    tr -d '\n' <"$1" | sed -n 's/.*"max_rate"[[:space:]]*:[[:space:]]*{[^}]*"rate"[[:space:]]*:[[:space:]]*\([0-9][0-9.eE+-]*\).*/\1/p'
}
# calc EXPR: awk arithmetic; prints null when an operand is empty
calc() { awk "BEGIN { x = ($1); if (x != x) print \"null\"; else printf \"%.6g\", x }" 2>/dev/null || echo null; }
num_or_null() { [ -n "$1" ] && echo "$1" || echo null; }
skipped() { printf '{"skipped": %s}' "$(jstr "$1")" >"$2"; log "skipped: $1"; }
# md ROW: one line of the markdown summary of the end-to-end part
md() { printf '%s\n' "$*" >>"$TMP/e2e.md"; }

# 1. machine ---------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -z "$cpu" ] && cpu=$(uname -m)
cores=$(nproc 2>/dev/null || echo 1)
ccv=$(${CC:-cc} --version 2>/dev/null | head -n 1)
commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
mem_kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo 2>/dev/null)
{
    printf '{"cpu": %s, "cores": %s, "memory_kib": %s, "kernel": %s, ' \
        "$(jstr "$cpu")" "$cores" "$(num_or_null "$mem_kib")" "$(jstr "$(uname -r)")"
    printf '"compiler": %s, "date": %s, "git_commit": %s, "git_dirty_files": %s, ' \
        "$(jstr "$ccv")" "$(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
        "$(jstr "$commit")" "$dirty"
    printf '"build": %s, "quick": %s}' "$(jstr "$(basename "$B")")" \
        "$([ -n "$QUICK" ] && echo true || echo false)"
} >"$TMP/machine.json"
log "machine: $cpu, $cores cores, $(uname -r), commit $commit"

# 2. router (in process) ---------------------------------------------------

if want router; then
    if [ ! -x "$B/bench-router" ]; then
        skipped "$B/bench-router not built" "$TMP/router.json"
    else
        log "router: $B/bench-router ${QUICK:+--quick}"
        if timeout -k 5 $((ROUTER_BUDGET * 2 + 60)) "$B/bench-router" ${QUICK:+--quick} \
            --budget "$ROUTER_BUDGET" --json "$TMP/router.part" --md "$TMP/router.md" \
            2> >(tee "$TMP/router.log" >&2); then
            mv "$TMP/router.part" "$TMP/router.json"
        else
            rc=$?
            skipped "bench-router failed (exit $rc): $(tail -n 3 "$TMP/router.log" 2>/dev/null)" \
                "$TMP/router.json"
        fi
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/router.json"
fi

# 3b. close (10,000 desks dropping at once) ---------------------------------

CLOSE_LINE=""
if want close; then
    if [ ! -x "$B/bench-close" ]; then
        skipped "$B/bench-close not built" "$TMP/close.json"
    else
        log "close: $B/bench-close --reps 3"
        if timeout -k 5 300 "$B/bench-close" --reps 3 >"$TMP/close.out" \
            2>"$TMP/close.log"; then
            CLOSE_LINE=$(tail -n 1 "$TMP/close.out")
            printf '{"median": %s}' "$(jstr "$CLOSE_LINE")" >"$TMP/close.json"
            log "close: $CLOSE_LINE"
        else
            rc=$?
            skipped "bench-close failed (exit $rc): $(tail -n 2 "$TMP/close.log" 2>/dev/null)" \
                "$TMP/close.json"
        fi
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/close.json"
fi

# 3c. recovery (100,000 contacts and 10,000 agents loaded again) ------------

RECOVERY_LINE=""
if want recovery; then
    if [ ! -x "$B/bench-recovery" ]; then
        skipped "$B/bench-recovery not built" "$TMP/recovery.json"
    else
        reps=3
        [ -n "$QUICK" ] && reps=1
        log "recovery: $B/bench-recovery --reps $reps --layout journal"
        if timeout -k 5 600 "$B/bench-recovery" --reps "$reps" --layout journal \
            --json "$TMP/recovery.part" >"$TMP/recovery.out" \
            2>"$TMP/recovery.log" && [ -s "$TMP/recovery.part" ]; then
            mv "$TMP/recovery.part" "$TMP/recovery.json"
            RECOVERY_LINE=$(grep -E '^(median|rewrite)' "$TMP/recovery.out")
            log "recovery: $(printf '%s' "$RECOVERY_LINE" | tr '\n' ' ')"
        else
            rc=$?
            skipped "bench-recovery failed (exit $rc): $(tail -n 2 "$TMP/recovery.log" 2>/dev/null)" \
                "$TMP/recovery.json"
        fi
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/recovery.json"
fi

# 3e. ccsim (a simulated day in simulated time) ------------------------------

# ccsim_time SCENARIO NAME: times `ccsim --config engine-bench.yaml
# --traffic bench/scenarios/SCENARIO --json` three times; writes
# $TMP/NAME.json and sets CCSIM_TIMED to the summary line ("" if it
# failed: the JSON says why).
ccsim_time() {
    local scen=$1 name=$2 walls="" ok=1 run t0 t1 contacts agents wall rate
    CCSIM_TIMED=""
    log "ccsim: $B/ccsim --config bench/scenarios/engine-bench.yaml --traffic bench/scenarios/$scen --json (3 runs)"
    for run in 1 2 3; do
        t0=$(date +%s%N)
        if ! timeout -k 5 300 "$B/ccsim" --config bench/scenarios/engine-bench.yaml \
            --traffic "bench/scenarios/$scen" --json >"$TMP/$name.out" \
            2>"$TMP/$name.log"; then
            ok=0
            break
        fi
        t1=$(date +%s%N)
        walls="$walls $(calc "($t1 - $t0) / 1e9")"
    done
    contacts=$(jfirst "$TMP/$name.out" contacts)
    agents=$(jfirst "$TMP/$name.out" agents)
    if [ "$ok" = 1 ] && [ -n "$contacts" ]; then
        wall=$(printf '%s\n' $walls | sort -g | sed -n 2p)
        rate=$(calc "$contacts / $wall")
        printf '{"scenario": "%s", "config": "engine-bench.yaml", "hours": 24, "agents": %s, "contacts": %s, "wall_s": [%s], "median_wall_s": %s, "contacts_per_s": %s}' \
            "$scen" "$agents" "$contacts" "$(echo $walls | tr ' ' ',')" "$wall" "$rate" >"$TMP/$name.json"
        CCSIM_TIMED="$scen, 24 h, $agents agents, $contacts contacts: median wall ${wall} s, $rate simulated contacts/s"
        log "ccsim: $CCSIM_TIMED"
    else
        skipped "ccsim failed: $(tail -n 2 "$TMP/$name.log" 2>/dev/null)" "$TMP/$name.json"
    fi
}

# ccsim-day.yaml, and the same day with a predictive campaign blended with
# sales_en (ccsim-blend.yaml: the campaign core paced every 100 ms)
CCSIM_LINE=""
CCSIM_BLEND_LINE=""
if want ccsim; then
    if [ ! -x "$B/ccsim" ]; then
        skipped "$B/ccsim not built" "$TMP/ccsim.json"
        skipped "$B/ccsim not built" "$TMP/ccsim-blend.json"
    else
        ccsim_time ccsim-day.yaml ccsim
        CCSIM_LINE=$CCSIM_TIMED
        ccsim_time ccsim-blend.yaml ccsim-blend
        CCSIM_BLEND_LINE=$CCSIM_TIMED
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/ccsim.json"
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/ccsim-blend.json"
fi

# 3f. erlang (the simulator against queueing theory, a grid) ---------------

ERLANG_LINE=""
if want erlang; then
    if [ ! -x "$B/bench-erlang" ]; then
        skipped "$B/bench-erlang not built" "$TMP/erlang.json"
    else
        log "erlang: $B/bench-erlang ${QUICK:+--quick }--json (grid of Erlang C and A points)"
        if timeout -k 5 1200 "$B/bench-erlang" ${QUICK:+--quick} --json "$TMP/erlang.json" \
            >"$TMP/erlang.md" 2>"$TMP/erlang.log"; then
            ERLANG_LINE=$(tail -n 1 "$TMP/erlang.md")
            log "erlang: $ERLANG_LINE"
        else
            rc=$?
            skipped "bench-erlang failed (exit $rc): $(tail -n 2 "$TMP/erlang.log" 2>/dev/null)" \
                "$TMP/erlang.json"
            rm -f "$TMP/erlang.md"
        fi
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/erlang.json"
fi

# 3. end to end ------------------------------------------------------------

REDIS_PORT=""
REDIS_PID=""

start_redis() {
    command -v redis-server >/dev/null 2>&1 || { WHY="redis-server not installed"; return 1; }
    command -v redis-cli >/dev/null 2>&1 || { WHY="redis-cli not installed"; return 1; }
    local try port
    for try in 1 2 3 4 5 6 7 8; do
        port=$(( 20000 + (RANDOM * 7 + $$ + try * 131) % 30000 ))
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$TMP" --logfile "$TMP/redis.log" --daemonize no \
            --protected-mode yes >/dev/null 2>&1 &
        REDIS_PID=$!
        PIDS="$PIDS $REDIS_PID"
        for _ in $(seq 50); do
            if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
                REDIS_PORT=$port
                return 0
            fi
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$REDIS_PID" 2>/dev/null
    done
    WHY="redis-server did not start: $(tail -n 2 "$TMP/redis.log" 2>/dev/null | tr '\n' ' ')"
    return 1
}

# Server currently under test.
SRV_PID=""
SRV_PORT=""

# start_server NAME BIN CONFIG [ARGS...]: starts BIN on an ephemeral
# loopback port, waits for its port file. Sets WHY on failure. (Called
# directly, never in $(...): it sets globals.)
start_server() {
    local name=$1 bin=$2 cfg=$3
    shift 3
    [ -x "$bin" ] || { WHY="$bin not built"; return 1; }
    local pf="$TMP/$name.port"
    rm -f "$pf"
    "$bin" --config "$cfg" --listen 127.0.0.1:0 --port-file "$pf" "$@" \
        >>"$TMP/$name.out" 2>&1 &
    SRV_PID=$!
    PIDS="$PIDS $SRV_PID"
    for _ in $(seq 100); do
        if [ -s "$pf" ]; then
            SRV_PORT=$(tr -dc '0-9' <"$pf")
            [ -n "$SRV_PORT" ] && return 0
        fi
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            WHY="$(basename "$bin") exited at start: $(tail -n 2 "$TMP/$name.out" | tr '\n' ' ')"
            return 1
        fi
        sleep 0.1
    done
    WHY="$(basename "$bin") wrote no port file in 10 s"
    return 1
}

stop_pid() {   # PID: SIGTERM, up to 3 s, then SIGKILL
    kill "$1" 2>/dev/null
    for _ in $(seq 30); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

stop_server() {
    [ -n "$SRV_PID" ] || return 0
    stop_pid "$SRV_PID"
    SRV_PID=""
    SRV_PORT=""
}

# The routing model of the end-to-end runs is ccload's: the engine
# configuration bench/scenarios/engine-bench.yaml (queues and skills that
# the traffic model bench/scenarios/bench-max.yaml uses), with its listen
# and redis sections replaced.
ENGINE_CFG=${BENCH_ENGINE_CONFIG:-$ROOT/bench/scenarios/engine-bench.yaml}
MODEL=${BENCH_MODEL:-$ROOT/bench/scenarios/bench-max.yaml}
write_config() {   # FILE DURABILITY(memory|redis|replicated|off)
    local f=$1 dur=$2
    {
        echo "# generated by bench/run.sh from $(basename "$ENGINE_CFG")"
        awk '/^redis:/ { skip = 1; next }
             /^listen:/ { next }
             skip && /^[ \t]/ { next }
             { skip = 0; print }' "$ENGINE_CFG"
        echo "listen: 127.0.0.1:0"
        echo "redis:"
        if [ "$dur" = off ]; then
            echo "  enabled: false"
        else
            echo "  enabled: true"
            echo "  durability: $dur"
            echo "  host: 127.0.0.1"
            echo "  port: ${REDIS_PORT:-6379}"
            echo "  tenant: bench-$dur-$$-${TENANT_SUFFIX:-0}"
            # redis.layout: the engine's default (journal) unless a row
            # names one (the cost and cpu phases measure both)
            [ -n "${LAYOUT:-}" ] && echo "  layout: $LAYOUT"
        fi
    } >"$f"
}

redis_cpu_ms() {   # used_cpu_user + used_cpu_sys of the private redis, in ms
    redis-cli -p "$REDIS_PORT" info cpu 2>/dev/null \
        | sed -n 's/^used_cpu_\(user\|sys\):\([0-9.]*\).*/\2/p' \
        | awk '{ s += $1 } END { printf "%.1f", s * 1000 }'
}

start_replica() {   # a replica of the private redis (durability replicated)
    local try port
    for try in 1 2 3 4; do
        port=$(( 20000 + (RANDOM * 11 + $$ + try * 173) % 30000 ))
        [ "$port" = "$REDIS_PORT" ] && continue
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$TMP" --logfile "$TMP/replica.log" --daemonize no \
            --replicaof 127.0.0.1 "$REDIS_PORT" >/dev/null 2>&1 &
        REPL_PID=$!
        PIDS="$PIDS $REPL_PID"
        for _ in $(seq 100); do
            if redis-cli -p "$REDIS_PORT" info replication 2>/dev/null \
                    | grep -q "^slave0:.*state=online"; then
                REPL_PORT=$port
                return 0
            fi
            kill -0 "$REPL_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$REPL_PID" 2>/dev/null
    done
    WHY="the replica did not come online: $(tail -n 2 "$TMP/replica.log" 2>/dev/null | tr '\n' ' ')"
    return 1
}

replica_cpu_ms() {   # used_cpu_user + used_cpu_sys of the replica, in ms
    redis-cli -p "$REPL_PORT" info cpu 2>/dev/null \
        | sed -n 's/^used_cpu_\(user\|sys\):\([0-9.]*\).*/\2/p' \
        | awk '{ s += $1 } END { printf "%.1f", s * 1000 }'
}

redis_calls() {   # total commands executed by the private redis
    redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null \
        | sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\).*/\1/p' \
        | awk '{ s += $1 } END { print s + 0 }'
}

CCLOAD=$B/ccload
# ccload_run OUT PORT ARGS...: one ccload run, JSON to OUT; returns its
# exit status; the run is bounded by timeout.
ccload_run() {
    local out=$1 port=$2
    shift 2
    local lim=$(( DUR * 4 + 60 ))
    echo "== ccload --model $(basename "$MODEL") --json $(basename "$out") $* 127.0.0.1:$port" \
        >>"$TMP/ccload.log"
    timeout -k 5 "$lim" "$CCLOAD" --model "$MODEL" --drain 1 --json "$out" -q "$@" "127.0.0.1:$port" \
        >>"$TMP/ccload.log" 2>&1
}

# e2e_target NAME BIN DURABILITY: max rate, then 25/50/90% of it.
# Writes $TMP/e2e-NAME.json.
e2e_skip() {   # NAME REASON OUT
    skipped "$2" "$3"
    md "| $1 | skipped: $(printf '%s' "$2" | tr '|' '/') | | | | | | |"
}

# fresh NAME BIN DURABILITY RUN: a freshly started server for one ccload
# run (a new Redis tenant each time), so that no run sees the agents and
# contacts that the previous one left in their grace period.
fresh() {
    local name=$1 bin=$2 dur=$3 run=$4 keep=${5:-}
    TENANT_SUFFIX=$run
    # the private Redis starts empty for every run (KEEP: other engines'
    # tenants are live in it)
    [ -n "$REDIS_PORT" ] && [ "$keep" != keep ] && redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1
    write_config "$TMP/$name-$run.yaml" "$dur"
    local extra=()
    [ "$name" = lua ] && extra=(--redis "127.0.0.1:$REDIS_PORT" --prefix "bench-lua-$$-$run")
    start_server "$name" "$bin" "$TMP/$name-$run.yaml" "${extra[@]}" && return 0
    # once more: a start can fail on a busy two-core machine
    log "$name: $WHY; starting it again"
    stop_server
    sleep 0.5
    start_server "$name" "$bin" "$TMP/$name-$run.yaml" "${extra[@]}"
}

e2e_target() {
    local name=$1 bin=$2 dur=$3
    local out="$TMP/e2e-$name.json"
    if ! want "$name"; then
        e2e_skip "$name" "not selected (BENCH_ONLY=$ONLY)" "$out"
        return
    fi
    [ -x "$CCLOAD" ] || { e2e_skip "$name" "$CCLOAD not built" "$out"; return; }
    [ -f "$ENGINE_CFG" ] || { e2e_skip "$name" "$ENGINE_CFG missing" "$out"; return; }
    [ -f "$MODEL" ] || { e2e_skip "$name" "$MODEL missing" "$out"; return; }
    if [ "$dur" != off ] && [ -z "$REDIS_PORT" ]; then
        e2e_skip "$name" "no redis: $REDIS_WHY" "$out"
        return
    fi
    if ! fresh "$name" "$bin" "$dur" max; then
        e2e_skip "$name" "$WHY" "$out"
        return
    fi
    log "$name: $(basename "$bin") on port $SRV_PORT: finding the maximum rate"
    if ! ccload_run "$TMP/$name-max.json" "$SRV_PORT" --max-rate --duration "$MAXDUR"; then
        e2e_skip "$name" "ccload --max-rate failed: $(tail -n 2 "$TMP/ccload.log" | tr '\n' ' ')" "$out"
        stop_server
        return
    fi
    stop_server
    local max
    max=$(max_rate_of "$TMP/$name-max.json")
    if [ -z "$max" ] || [ "$(calc "$max > 0")" != 1 ]; then
        e2e_skip "$name" "ccload --max-rate gave no max_rate" "$out"
        return
    fi
    max=$(awk "BEGIN { printf \"%d\", $max }")
    log "$name: max rate $max/s"
    local pct rate runs="" sep=""
    for pct in $PCTS; do
        rate=$(awk "BEGIN { printf \"%d\", $max * $pct / 100 }")
        [ "$rate" -lt 1 ] && rate=1
        local f="$TMP/$name-$pct.json" cs cb ce rtpc=null
        if ! fresh "$name" "$bin" "$dur" "$pct"; then
            log "$name: ${pct}%: $WHY"
            md "| $name | $max | $pct% | $rate | $(printf '%s' "$WHY" | tr '|' '/') | | | |"
            runs="$runs$sep{\"percent_of_max\": $pct, \"rate\": $rate, \"skipped\": $(jstr "$WHY")}"
            sep=", "
            continue
        fi
        [ -n "$REDIS_PORT" ] && cb=$(redis_calls)
        if ccload_run "$f" "$SRV_PORT" --rate "$rate" --duration "$DUR"; then
            [ -n "$REDIS_PORT" ] && ce=$(redis_calls)
            cs=$(jfirst "$f" sent)
            if [ "$dur" != off ] && [ -n "$REDIS_PORT" ] && [ -n "$cs" ] && [ "$cs" != 0 ]; then
                rtpc=$(calc "($ce - $cb - 1) / $cs")
            fi
            md "| $name | $max | $pct% | $rate | $(jfirst "$f" p50) | $(jfirst "$f" p99) | $(jfirst "$f" p999) | $([ "$rtpc" = null ] && echo - || echo "$rtpc") |"
            log "$name: ${pct}% = $rate/s: routing p50 $(jfirst "$f" p50) us, p99 $(jfirst "$f" p99) us, p99.9 $(jfirst "$f" p999) us"
            runs="$runs$sep{\"percent_of_max\": $pct, \"rate\": $rate, \"redis_commands_per_contact\": $rtpc, \"ccload\": $(cat "$f")}"
        else
            md "| $name | $max | $pct% | $rate | ccload failed | | | |"
            runs="$runs$sep{\"percent_of_max\": $pct, \"rate\": $rate, \"skipped\": $(jstr "ccload failed: $(tail -n 1 "$TMP/ccload.log")")}"
        fi
        stop_server
        sep=", "
    done
    printf '{"server": %s, "durability": %s, "max_rate": %s, "max": %s, "runs": [%s]}' \
        "$(jstr "$(basename "$bin")")" "$(jstr "$dur")" "$max" \
        "$(cat "$TMP/$name-max.json")" "$runs" >"$out"
}

REDIS_WHY="not started"
WHY=""
if want memory || want redis || want lua || want cost; then
    if ! start_redis; then
        REDIS_WHY=$WHY
        log "redis: $REDIS_WHY"
    else
        log "redis: private redis-server on 127.0.0.1:$REDIS_PORT"
    fi
fi
e2e_target limit "$B/limit-server" off
e2e_target noredis "$B/ccrouted" off
e2e_target memory "$B/ccrouted" memory
e2e_target redis "$B/ccrouted" redis
e2e_target lua "$B/lua-server" redis

# 3d. Redis cost per contact, one fixed rate for both durability levels -----

COST_RATE=${BENCH_COST_RATE:-10000}
cost_run() {   # DURABILITY: one fixed-rate run; prints a JSON object (call
               # it with a redirection, never in $(...): it starts servers)
    local dur=$1 f="$TMP/cost-$1${LAYOUT:+-$LAYOUT}.json" c0 c1 k0 k1 sent
    if ! fresh cost "$B/ccrouted" "$dur" "cost-$dur${LAYOUT:+-$LAYOUT}"; then
        printf '{"skipped": %s}' "$(jstr "$WHY")"
        return
    fi
    local r0=0 r1=0
    c0=$(redis_cpu_ms)
    k0=$(redis_calls)
    [ "$dur" = replicated ] && r0=$(replica_cpu_ms)
    if ccload_run "$f" "$SRV_PORT" --rate "$COST_RATE" --duration "$DUR"; then
        c1=$(redis_cpu_ms)
        k1=$(redis_calls)
        [ "$dur" = replicated ] && r1=$(replica_cpu_ms)
        sent=$(jfirst "$f" sent)
        printf '{"rate": %s, "seconds": %s, "sent": %s, "redis_cpu_ms": %s, ' \
            "$COST_RATE" "$DUR" "$(num_or_null "$sent")" "$(calc "$c1 - $c0")"
        [ "$dur" = replicated ] && printf '"replica_cpu_us_per_contact": %s, ' \
            "$(calc "($r1 - $r0) * 1000 / $sent")"
        printf '"redis_cpu_us_per_contact": %s, "redis_commands_per_contact": %s}' \
            "$(calc "($c1 - $c0) * 1000 / $sent")" "$(calc "($k1 - $k0 - 2) / $sent")"
    else
        printf '{"skipped": %s}' "$(jstr "ccload failed: $(tail -n 1 "$TMP/ccload.log")")"
    fi
    stop_server
}
if ! want cost; then
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/cost.json"
elif [ -z "$REDIS_PORT" ]; then
    skipped "no redis: $REDIS_WHY" "$TMP/cost.json"
elif [ ! -x "$CCLOAD" ]; then
    skipped "$CCLOAD not built" "$TMP/cost.json"
else
    log "cost: Redis CPU per contact at $COST_RATE/s, durability memory and redis with redis.layout hashes, then journal (the default); replicated on the default"
    # not in $(...): cost_run starts servers (globals, PIDS)
    LAYOUT=hashes cost_run memory >"$TMP/cost-memory.obj"
    LAYOUT=hashes cost_run redis >"$TMP/cost-redis.obj"
    LAYOUT=journal cost_run memory >"$TMP/cost-memory-journal.obj"
    LAYOUT=journal cost_run redis >"$TMP/cost-redis-journal.obj"
    # replicated: WAIT for one replica, a second redis-server replicating
    # the private one; the master's CPU as above, the replica's beside it
    if start_replica; then
        cost_run replicated >"$TMP/cost-replicated.obj"
        kill "$REPL_PID" 2>/dev/null
        wait "$REPL_PID" 2>/dev/null
    else
        printf '{"skipped": %s}' "$(jstr "$WHY")" >"$TMP/cost-replicated.obj"
    fi
    printf '{"memory": %s, "redis": %s, "replicated": %s, "memory_journal": %s, "redis_journal": %s}' \
        "$(cat "$TMP/cost-memory.obj")" "$(cat "$TMP/cost-redis.obj")" \
        "$(cat "$TMP/cost-replicated.obj")" \
        "$(cat "$TMP/cost-memory-journal.obj")" \
        "$(cat "$TMP/cost-redis-journal.obj")" >"$TMP/cost.json"
    log "cost: $(cat "$TMP/cost.json")"
fi

# 3c. cpu ------------------------------------------------------------------
# CPU per contact at fixed rates people run (10,000/s and 100/s): ccload
# --cpu reads the CPU time of the server and of Redis (schedstat, ns) at
# the start and the end of the arrivals; idle wake-ups count. Each target
# on a fresh server. Writes $TMP/cpu.json and lines of $TMP/cpu.md.
CPU_RATES=${BENCH_CPU_RATES:-10000 100}
cpu_dur() {   # RATE: seconds of arrivals (more at low rates, for enough contacts)
    if [ "$1" -ge 1000 ]; then [ -n "$QUICK" ] && echo 3 || echo 5
    else [ -n "$QUICK" ] && echo 5 || echo 10; fi
}
cpu_field() {   # FILE NAME: us_per_contact of process NAME in ccload's "cpu"
    [ -f "$1" ] || return 0
    grep -o "\"$2\": {\"pid\"[^}]*}" "$1" | head -n 1 \
        | sed -n 's/.*"us_per_contact": \([0-9.]*\).*/\1/p'
}
cpu_row() {   # NAME BIN DURABILITY RATE: its JSON object into $TMP/cpu-row.json
    local name=$1 bin=$2 dur=$3 rate=$4 d f e r l
    exec 3>"$TMP/cpu-row.json"
    d=$(cpu_dur "$rate")
    f="$TMP/cpu-$name-$rate.json"
    if [ "$dur" != off ] && [ -z "$REDIS_PORT" ]; then
        printf '{"target": %s, "rate": %s, "skipped": %s}' "$(jstr "$name")" "$rate" \
            "$(jstr "no redis: $REDIS_WHY")" >&3
        exec 3>&-
        return
    fi
    if ! fresh "$name" "$bin" "$dur" "cpu$rate"; then
        printf '{"target": %s, "rate": %s, "skipped": %s}' "$(jstr "$name")" "$rate" "$(jstr "$WHY")" >&3
        exec 3>&-
        return
    fi
    local args=(--cpu "server=$SRV_PID")
    [ "$dur" != off ] && args+=(--cpu "redis=$REDIS_PID")
    if ccload_run "$f" "$SRV_PORT" --rate "$rate" --duration "$d" "${args[@]}"; then
        e=$(cpu_field "$f" server)
        r=$(cpu_field "$f" redis)
        l=$(cpu_field "$f" ccload)
        log "cpu: $name at $rate/s: server ${e:-?} us/contact, redis ${r:--} us/contact"
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$rate" "$d" "$(jfirst "$f" sent)" \
            "${e:--}" "${r:--}" "$( [ -n "$e" ] && calc "$e + ${r:-0}" || echo -)" >>"$TMP/cpu.md"
        printf '{"target": %s, "rate": %s, "seconds": %s, "contacts": %s, "server_us_per_contact": %s, "redis_us_per_contact": %s, "ccload_us_per_contact": %s, "p99_us": %s}' \
            "$(jstr "$name")" "$rate" "$d" "$(num_or_null "$(jfirst "$f" sent)")" "$(num_or_null "$e")" \
            "$(num_or_null "$r")" "$(num_or_null "$l")" "$(num_or_null "$(jfirst "$f" p99)")" >&3
    else
        printf '{"target": %s, "rate": %s, "skipped": %s}' "$(jstr "$name")" "$rate" \
            "$(jstr "ccload failed: $(tail -n 1 "$TMP/ccload.log")")" >&3
    fi
    exec 3>&-
    stop_server
}
if want cpu; then
    if [ ! -x "$CCLOAD" ]; then
        skipped "$CCLOAD not built" "$TMP/cpu.json"
    else
        [ -z "$REDIS_PORT" ] && [ "$REDIS_WHY" = "not started" ] && start_redis && REDIS_WHY=""
        rows="" sep=""
        for rate in $CPU_RATES; do
            for t in "limit $B/limit-server off" "noredis $B/ccrouted off" \
                     "redis $B/ccrouted redis" "redis_journal $B/ccrouted redis"; do
                set -- $t
                # redis_journal: durability redis, redis.layout journal
                # redis: redis.layout hashes; redis_journal: journal
                LAYOUT=""
                [ "$1" = redis ] && LAYOUT=hashes
                [ "$1" = redis_journal ] && LAYOUT=journal
                cpu_row "$1" "$2" "$3" "$rate"
                LAYOUT=""
                rows="$rows$sep$(cat "$TMP/cpu-row.json")"
                sep=", "
            done
        done
        printf '{"rates": [%s], "rows": [%s]}' "$(echo $CPU_RATES | tr ' ' ',')" "$rows" >"$TMP/cpu.json"
    fi
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/cpu.json"
fi

# 3g. scale ----------------------------------------------------------------
# Several engines, one per core, each on its own tenant: the aggregate
# rate of N against one. In process (bench-router --threads: N routers of
# 10,000 agents on N threads, 20 queues, 10 skills, contacts waiting) and
# end to end (N ccrouted processes, each driven by its own ccload
# --max-rate at the same time; without Redis, then durability memory with
# every engine on its own tenant of the one private redis-server). N is
# the machine's cores (BENCH_SCALE_N to choose, at most 16). On a small
# machine the load generators take cores from the engines: the table says
# how many cores there were.
SCALE_N=${BENCH_SCALE_N:-$(nproc 2>/dev/null || echo 2)}
SCALE_WINDOW=$(sed -n 's/^window:[[:space:]]*\([0-9]*\).*/\1/p' "$MODEL" 2>/dev/null)
[ -z "$SCALE_WINDOW" ] && SCALE_WINDOW=64
[ "$SCALE_N" -gt 16 ] && SCALE_N=16
[ "$SCALE_N" -lt 2 ] && SCALE_N=2
# scale_e2e DURABILITY K: K engines at once; prints the JSON object
# (called with a redirection, never in $(...): it starts servers)
# [WINDOW]: ccload's window instead of the model's (the one-engine row
# again with N times the window: a closed loop's rate is bound by its
# window over the round trip, so N loads carry N windows)
scale_e2e() {
    local dur=$1 k=$2 win=${3:-} i pids=() ports=() lp=() sum=0 each="" sep="" r
    local failed=""
    for i in $(seq "$k"); do
        # one flush before the first engine only: the others' tenants
        # are already live
        if ! fresh "scale-$dur-$k-$i" "$B/ccrouted" "$dur" "scale$k-$i" \
                "$([ "$i" -gt 1 ] && echo keep)"; then
            printf '{"engines": %s, "durability": %s, "window": %s, "skipped": %s}' \
                "$k" "$(jstr "$dur")" "$(num_or_null "$win")" "$(jstr "$WHY")"
            stop_server
            for i in "${pids[@]}"; do stop_pid "$i"; done
            return
        fi
        pids+=("$SRV_PID")
        ports+=("$SRV_PORT")
        SRV_PID=""
    done
    for i in $(seq 0 $((k - 1))); do
        rm -f "$TMP/scale-$dur-$k-${win:-0}-$i.json"
        ccload_run "$TMP/scale-$dur-$k-${win:-0}-$i.json" "${ports[$i]}" --max-rate \
            --duration "$MAXDUR" ${win:+--window "$win"} &
        lp+=("$!")
    done
    for i in "${lp[@]}"; do wait "$i" || failed="ccload failed (see ccload.log)"; done
    for i in $(seq 0 $((k - 1))); do
        r=$(max_rate_of "$TMP/scale-$dur-$k-${win:-0}-$i.json")
        [ -z "$r" ] && { r=0; failed="ccload gave no max_rate"; }
        sum=$(calc "$sum + $r")
        each="$each$sep$r"
        sep=", "
    done
    for i in "${pids[@]}"; do stop_pid "$i"; done
    if [ -n "$failed" ]; then
        printf '{"engines": %s, "durability": %s, "window": %s, "skipped": %s, "rates": [%s]}' \
            "$k" "$(jstr "$dur")" "$(num_or_null "$win")" "$(jstr "$failed")" "$each"
        return
    fi
    printf '{"engines": %s, "durability": %s, "window": %s, "aggregate_rate": %s, "rates": [%s]}' \
        "$k" "$(jstr "$dur")" "$(num_or_null "$win")" "$sum" "$each"
}
if want scale; then
    log "scale: $SCALE_N engines against one, $(nproc 2>/dev/null) cores"
    rj='{"skipped": "bench-router not built"}'
    if [ -x "$B/bench-router" ]; then
        if timeout -k 5 120 "$B/bench-router" --agents 10000 --queues 20 --skills 10 \
            --mode contacts_wait ${QUICK:+--quick} --threads "$SCALE_N" \
            --json "$TMP/scale-router.json" >/dev/null 2>"$TMP/scale-router.log"; then
            rj=$(tr -d '\n' <"$TMP/scale-router.json" | sed -n 's/.*"threads": \(\[[^]]*\]\).*/\1/p')
            [ -z "$rj" ] && rj='{"skipped": "no threads rows in the JSON"}'
        else
            rj="{\"skipped\": $(jstr "bench-router failed: $(tail -n 2 "$TMP/scale-router.log")")}"
        fi
    fi
    e2e_rows="" sep=""
    if [ -x "$CCLOAD" ]; then
        for dur in off memory; do
            if [ "$dur" = memory ] && [ -z "$REDIS_PORT" ] && ! start_redis; then
                REDIS_WHY=$WHY
                e2e_rows="$e2e_rows$sep{\"durability\": \"memory\", \"skipped\": $(jstr "no redis: $WHY")}"
                sep=", "
                continue
            fi
            for k in 1 "1 $((SCALE_WINDOW * SCALE_N))" "$SCALE_N"; do
                scale_e2e "$dur" $k >"$TMP/scale-row.json"
                e2e_rows="$e2e_rows$sep$(cat "$TMP/scale-row.json")"
                sep=", "
                log "scale: $(cat "$TMP/scale-row.json")"
            done
        done
    fi
    # the table: each N-engine row against the 1-engine row before it
    {
        echo "| what | 1 | $SCALE_N | $SCALE_N / 1 |"
        echo "|---|---:|---:|---:|"
        t1=$(printf '%s' "$rj" | sed -n 's/.*{"threads": 1,[^}]*"decisions_per_s": \([0-9.]*\).*/\1/p')
        tn=$(printf '%s' "$rj" | sed -n "s/.*{\"threads\": $SCALE_N,[^}]*\"decisions_per_s\": \([0-9.]*\).*/\1/p")
        echo "| router decisions/s, 10k agents 20q/10s contacts_wait | ${t1:--} | ${tn:--} | $( [ -n "$t1" ] && [ -n "$tn" ] && calc "$tn / $t1" || echo -) |"
        for dur in off memory; do
            a1=$(printf '%s' "$e2e_rows" | grep -o "{\"engines\": 1, \"durability\": \"$dur\", \"window\": null, \"aggregate_rate\": [0-9.e+]*" | sed 's/.*: //')
            aw=$(printf '%s' "$e2e_rows" | grep -o "{\"engines\": 1, \"durability\": \"$dur\", \"window\": [0-9]*, \"aggregate_rate\": [0-9.e+]*" | sed 's/.*: //')
            an=$(printf '%s' "$e2e_rows" | grep -o "{\"engines\": $SCALE_N, \"durability\": \"$dur\", \"window\": null, \"aggregate_rate\": [0-9.e+]*" | sed 's/.*: //')
            echo "| e2e contacts/s, redis $dur (ccload --max-rate each) | ${a1:--} | ${an:--} | $( [ -n "$a1" ] && [ -n "$an" ] && calc "$an / $a1" || echo -) |"
            echo "| the same, one engine with $SCALE_N windows | ${aw:--} | ${an:--} | $( [ -n "$aw" ] && [ -n "$an" ] && calc "$an / $aw" || echo -) |"
        done
    } >"$TMP/scale.md"
    printf '{"cores": %s, "engines": %s, "router_threads": %s, "e2e": [%s]}' \
        "$(nproc 2>/dev/null || echo null)" "$SCALE_N" "$rj" "$e2e_rows" >"$TMP/scale.json"
else
    skipped "not selected (BENCH_ONLY=$ONLY)" "$TMP/scale.json"
fi

# 4. results ---------------------------------------------------------------

# Figures for the ratios (empty when a phase was skipped).
lim_max=$(jfirst "$TMP/e2e-limit.json" max_rate)
mem_max=$(jfirst "$TMP/e2e-memory.json" max_rate)
nor_max=$(jfirst "$TMP/e2e-noredis.json" max_rate)
red_max=$(jfirst "$TMP/e2e-redis.json" max_rate)
lua_max=$(jfirst "$TMP/e2e-lua.json" max_rate)
# p99 at 50% of max: the second run of each target
p99_at50() {
    [ -f "$1" ] || return 0
    tr -d '\n' <"$1" | sed 's/"percent_of_max"/\n&/g' | grep '"percent_of_max": 50' \
        | grep -o '"p99"[[:space:]]*:[[:space:]]*[0-9.eE+-]*' | head -n 1 \
        | sed 's/.*:[[:space:]]*//'
}
rt_at50() {
    [ -f "$1" ] || return 0
    tr -d '\n' <"$1" | sed 's/"percent_of_max"/\n&/g' | grep '"percent_of_max": 50' \
        | grep -o '"redis_commands_per_contact"[[:space:]]*:[[:space:]]*[0-9.eE+-]*' \
        | head -n 1 | sed 's/.*:[[:space:]]*//'
}
# cpu_of TARGET RATE FIELD: a field of one row of $TMP/cpu.json
cpu_of() {
    [ -f "$TMP/cpu.json" ] || return 0
    grep -o "{\"target\": \"$1\", \"rate\": $2,[^}]*}" "$TMP/cpu.json" | head -n 1 \
        | sed -n "s/.*\"$3\": \([0-9.]*\).*/\1/p"
}
cpu_lim_10k=$(cpu_of limit 10000 server_us_per_contact)
cpu_nor_10k=$(cpu_of noredis 10000 server_us_per_contact)
cpu_lim_100=$(cpu_of limit 100 server_us_per_contact)
cpu_nor_100=$(cpu_of noredis 100 server_us_per_contact)
# the targets read the default layout's rows (redis.layout journal)
cpu_red_10k=$(cpu_of redis_journal 10000 server_us_per_contact)
cpu_red_10k_all=$( [ -n "$cpu_red_10k" ] && calc "$cpu_red_10k + $(cpu_of redis_journal 10000 redis_us_per_contact)" )
cpu_red_100=$(cpu_of redis_journal 100 server_us_per_contact)
cpu_red_100_all=$( [ -n "$cpu_red_100" ] && calc "$cpu_red_100 + $(cpu_of redis_journal 100 redis_us_per_contact)" )
mem_p99=$(p99_at50 "$TMP/e2e-memory.json")
nor_p99=$(p99_at50 "$TMP/e2e-noredis.json")
red_p99=$(p99_at50 "$TMP/e2e-redis.json")
lua_p99=$(p99_at50 "$TMP/e2e-lua.json")
red_rt=$(rt_at50 "$TMP/e2e-redis.json")

ratio() {   # NAME A B TARGET CMP(ge|le) NOTE: A/B against TARGET
    local name=$1 a=$2 b=$3 target=$4 cmp=$5 note=$6
    if [ -z "$a" ] || [ -z "$b" ]; then
        printf '"%s": {"target": %s, "measured": null, "note": %s}' "$name" "$target" \
            "$(jstr "$note; not measured (a phase was skipped)")"
        return
    fi
    local v met
    v=$(calc "$a / $b")
    if [ "$cmp" = ge ]; then met=$(calc "$v >= $target"); else met=$(calc "$v <= $target"); fi
    printf '"%s": {"target": %s, "measured": %s, "met": %s, "note": %s}' "$name" "$target" \
        "$v" "$([ "$met" = 1 ] && echo true || echo false)" "$(jstr "$note")"
}
absolute() {   # NAME VALUE TARGET(le) NOTE
    local name=$1 v=$2 target=$3 note=$4
    if [ -z "$v" ]; then
        printf '"%s": {"target": %s, "measured": null, "note": %s}' "$name" "$target" \
            "$(jstr "$note; not measured (a phase was skipped)")"
        return
    fi
    printf '"%s": {"target": %s, "measured": %s, "met": %s, "note": %s}' "$name" "$target" \
        "$v" "$([ "$(calc "$v <= $target")" = 1 ] && echo true || echo false)" "$(jstr "$note")"
}

{
    printf '{\n"schema": 1,\n"machine": %s,\n' "$(cat "$TMP/machine.json")"
    printf '"router": %s,\n' "$(cat "$TMP/router.json")"
    printf '"close": %s,\n' "$(cat "$TMP/close.json")"
    printf '"recovery": %s,\n' "$(cat "$TMP/recovery.json")"
    printf '"redis_cost": %s,\n' "$(cat "$TMP/cost.json")"
    printf '"cpu": %s,\n' "$(cat "$TMP/cpu.json")"
    printf '"ccsim": %s,\n' "$(cat "$TMP/ccsim.json")"
    printf '"ccsim_blend": %s,\n' "$(cat "$TMP/ccsim-blend.json")"
    printf '"erlang": %s,\n' "$(cat "$TMP/erlang.json")"
    printf '"scale": %s,\n' "$(cat "$TMP/scale.json")"
    printf '"e2e": {\n'
    printf '  "redis_port": %s,\n' "$(num_or_null "$REDIS_PORT")"
    printf '  "fixed_run_seconds": %s,\n' "$DUR"
    printf '  "limit": %s,\n' "$(cat "$TMP/e2e-limit.json")"
    printf '  "noredis": %s,\n' "$(cat "$TMP/e2e-noredis.json")"
    printf '  "memory": %s,\n' "$(cat "$TMP/e2e-memory.json")"
    printf '  "redis": %s,\n' "$(cat "$TMP/e2e-redis.json")"
    printf '  "lua": %s\n' "$(cat "$TMP/e2e-lua.json")"
    printf '},\n"e2e_targets": {\n  '
    ratio engine_vs_limit_rate "$mem_max" "$lim_max" 0.7 ge \
        "max rate, engine (durability memory) / limit-server"
    printf ',\n  '
    ratio noredis_vs_limit_rate "$nor_max" "$lim_max" 0.85 ge \
        "max rate, engine without Redis / limit-server"
    printf ',\n  '
    ratio redis_vs_limit_rate "$red_max" "$lim_max" 0.6 ge \
        "max rate, engine (durability redis) / limit-server"
    printf ',\n  '
    absolute noredis_p99_us_at_half_max "$nor_p99" 500 \
        "p99 routing latency (us) at 50% of the max rate, engine without Redis"
    printf ',\n  '
    absolute engine_p99_us_at_half_max "$mem_p99" 500 \
        "p99 routing latency (us) at 50% of the engine's max rate, durability memory"
    printf ',\n  '
    absolute redis_p99_us_at_half_max "$red_p99" 500 \
        "p99 routing latency (us) at 50% of the engine's max rate, durability redis"
    printf ',\n  '
    ratio memory_vs_lua_rate "$mem_max" "$lua_max" 8 ge "max rate, engine memory / Lua router"
    printf ',\n  '
    ratio redis_vs_lua_rate "$red_max" "$lua_max" 6 ge "max rate, engine redis / Lua router"
    printf ',\n  '
    ratio memory_vs_lua_p99 "$mem_p99" "$lua_p99" 1 le "p99 at 50% of each one's max, engine memory / Lua"
    printf ',\n  '
    ratio redis_vs_lua_p99 "$red_p99" "$lua_p99" 1 le "p99 at 50% of each one's max, engine redis / Lua"
    printf ',\n  '
    ratio redis_vs_memory_rate "$red_max" "$mem_max" 0.5 ge "max rate, durability redis / memory"
    printf ',\n  '
    absolute cpu_engine_us_at_10k "$cpu_red_10k" 20 \
        "engine CPU per contact (us), durability redis, 10,000 contacts/s"
    printf ',\n  '
    absolute cpu_engine_redis_us_at_10k "$cpu_red_10k_all" 40 \
        "engine + Redis CPU per contact (us), durability redis, 10,000 contacts/s"
    printf ',\n  '
    absolute cpu_engine_redis_us_at_100 "$cpu_red_100_all" 100 \
        "engine + Redis CPU per contact (us), durability redis, 100 contacts/s"
    printf ',\n  "cpu_noredis_vs_limit_at_10k": %s' \
        "$( [ -n "$cpu_nor_10k" ] && [ -n "$cpu_lim_10k" ] && calc "$cpu_nor_10k / $cpu_lim_10k" || echo null)"
    printf ',\n  "cpu_noredis_vs_limit_at_100": %s' \
        "$( [ -n "$cpu_nor_100" ] && [ -n "$cpu_lim_100" ] && calc "$cpu_nor_100 / $cpu_lim_100" || echo null)"
    printf ',\n  "redis_commands_per_contact": %s\n}\n}\n' "$(num_or_null "$red_rt")"
} >"$TMP/all.json"

cp "$TMP/all.json" "$RES/$STAMP.json"
cp "$TMP/all.json" "$RES/latest.json"
cp "$TMP"/*.log "$TMP"/*.out "$RES/tmp/" 2>/dev/null
log "results: bench/results/latest.json, bench/results/$STAMP.json"
{
    echo "# ccroute benchmark results"
    echo
    echo "$cpu, $cores cores, kernel $(uname -r), $ccv, commit $commit,"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ)${QUICK:+, BENCH_QUICK=1}. JSON: latest.json ($STAMP.json)."
    echo
    echo "## Routing core, in process (bench-router)"
    echo
    if [ -f "$TMP/router.md" ]; then cat "$TMP/router.md"; else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/router.json")"; fi
    echo
    echo "## 10,000 desks dropping at once (bench-close)"
    echo
    if [ -n "$CLOSE_LINE" ]; then echo "$CLOSE_LINE"; else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/close.json")"; fi
    echo
    echo "## Recovery: 100,000 waiting contacts and 10,000 agents (bench-recovery)"
    echo
    if [ -n "$RECOVERY_LINE" ]; then printf '%s\n' "$RECOVERY_LINE"; else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/recovery.json")"; fi
    echo
    echo "## Redis CPU per contact at a fixed rate ($COST_RATE/s)"
    echo
    cat "$TMP/cost.json"
    echo
    echo
    echo "## End to end over loopback (ccload, model $(basename "$MODEL"))"
    echo
    echo "Max rate: ccload --max-rate (closed loop). Then open-loop runs of ${DUR} s at"
    echo "fractions of it; latency = intended arrival -> Offer received, in us."
    echo
    echo "| target | max rate/s | of max | rate/s | p50 us | p99 us | p99.9 us | Redis cmds/contact |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    [ -f "$TMP/e2e.md" ] && cat "$TMP/e2e.md"
    echo
    echo "| ratio | target | measured | met |"
    echo "|---|---:|---:|---|"
    tr -d '\n' <"$TMP/all.json" | sed 's/.*"e2e_targets": {//' \
        | grep -o '"[a-z0-9_]*": {"target": [0-9.]*, "measured": [0-9.e+-]*\(null\)\{0,1\}\(, "met": [a-z]*\)\{0,1\}' \
        | sed 's/"\([a-z0-9_]*\)": {"target": \([0-9.]*\), "measured": \([^,]*\)\(, "met": \([a-z]*\)\)\{0,1\}/| \1 | \2 | \3 | \5 |/'
    echo
    echo "Redis commands per contact (durability redis, 50% run): $(num_or_null "$red_rt")"
    echo
    echo "## A simulated day (ccsim)"
    echo
    if [ -n "$CCSIM_LINE" ]; then echo "$CCSIM_LINE"; else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/ccsim.json")"; fi
    if [ -n "$CCSIM_BLEND_LINE" ]; then echo "$CCSIM_BLEND_LINE (with a campaign)"; else
        echo "ccsim-blend.yaml skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/ccsim-blend.json")"; fi
    echo
    echo "## The simulator against Erlang C and A (bench-erlang)"
    echo
    if [ -f "$TMP/erlang.md" ]; then cat "$TMP/erlang.md"; else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/erlang.json")"; fi
    echo
    echo "## CPU per contact at fixed rates (ccload --cpu)"
    echo
    echo "CPU time of each process over the arrivals (schedstat) / contacts sent, in us;"
    echo "idle wake-ups included. ccload shares the 2 cores."
    echo
    echo "| target | rate/s | seconds | contacts | server us | Redis us | server + Redis us |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    [ -f "$TMP/cpu.md" ] && cat "$TMP/cpu.md"
    echo
    echo "## Several engines, one per core (scale)"
    echo
    if [ -f "$TMP/scale.md" ]; then
        echo "$(nproc) cores; the load generators (one ccload per engine) share them."
        echo
        cat "$TMP/scale.md"
    else
        echo "skipped: $(sed -n 's/.*"skipped": "\(.*\)".*/\1/p' "$TMP/scale.json")"
    fi
} >"$RES/latest.md"
log "table: bench/results/latest.md"
rm -rf "$TMP"
exit 0
