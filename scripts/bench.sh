#!/usr/bin/env bash
# Benchmarks chanx against two hand-written baselines, and against Python Chanx across
# processes, side by side in one run.
#
#   scripts/bench.sh [REPEATS] [SET]      (default 3, all)
#
# SET `memory`: chanx, the axum baseline (`bench-server raw`) and the lean baseline on
# fastwebsockets (`bench-server lean`), one process each, in-memory groups; every
# scenario but `idle` also reports the server's CPU time per message (per connection
# for `connect`), read from /proc around the messages. SET `redis`:
# split fan-out, the members of one group split over two server processes on one Redis
# pub/sub layer (REDIS_URL, default redis://127.0.0.1:6379), chanx (`bench-server
# chanx-redis`) against Python Chanx (bench/python/fanout_app.py under uvicorn, with the
# Python of CHANX_PYTHON, default target/interop-venv/bin/python, as `.ci/run` makes
# it); skipped with a message without Redis, its Python half without Python Chanx.
# SET `topics`: the chanx server only, a push to one topic's subscribers (`group`
# column: the same fan-out as a group broadcast), and the server's memory per
# subscription (C connections subscribing to 1,000 topics each, RSS before and after).
# SET `all`: memory and redis.
#
# Builds the servers and the load generator in release mode, then, REPEATS times,
# runs every scenario against each implementation in turn (rotating which goes first),
# each scenario on freshly started servers (with a Redis prefix of its own).
# Writes one JSON line per run to target/bench/results.jsonl and prints the tables of
# medians and ratios. Loopback only; every run is bounded by the load generator's
# timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

repeats="${1:-3}"
set_name="${2:-all}"
out=target/bench
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet -p chanx-bench
bin=target/release
port=9100

# Each phase of messages (or connections) is long enough for the server's CPU time,
# counted in clock ticks (10 ms at CLK_TCK = 100), to be read within about 1%.
scenarios=(
  "echo C=1|echo --connections 1 --messages 100000"
  "echo C=10|echo --connections 10 --messages 20000"
  "echo C=100|echo --connections 100 --messages 2000"
  "echo C=1000|echo --connections 1000 --messages 200"
  "echo C=1 W=8|echo --connections 1 --messages 100000 --in-flight 8"
  "echo C=10 W=8|echo --connections 10 --messages 20000 --in-flight 8"
  "echo C=100 W=8|echo --connections 100 --messages 2000 --in-flight 8"
  "echo C=1000 W=8|echo --connections 1000 --messages 200 --in-flight 8"
  "idle 10000|idle --connections 10000"
  "fanout 1000|fanout --connections 1000 --rounds 100"
  "fanout 10000|fanout --connections 10000 --rounds 20"
  "connect 20000 W=10|connect --connections 20000 --in-flight 10"
)
memory_impls=(chanx raw lean)

# Split fan-out: C members over two servers, member 0 fires R broadcasts, one at a time
# (latency) or with up to W undelivered (throughput).
split_scenarios=(
  "split-fanout 1000|split-fanout --connections 1000 --rounds 20"
  "split-fanout 1000 W=8|split-fanout --connections 1000 --rounds 40 --in-flight 8"
  "split-fanout 10000|split-fanout --connections 10000 --rounds 10"
)
# Topics: the same fan-out through a topic (`topic`) and a group (`group`); the memory
# of a subscription (`topic` only).
topic_scenarios=(
  "fanout 1000|--connections 1000 --rounds 100"
  "fanout 10000|--connections 10000 --rounds 20"
  "subscriptions 1x1000|--connections 1 --messages 1000"
  "subscriptions 20x1000|--connections 20 --messages 1000"
)
topic_impls=(topic group)
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
python="${CHANX_PYTHON:-target/interop-venv/bin/python}"

wait_port() { # port: until it accepts, at most 10 s
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
}

measure() { # impl label "pids" loadgen-args...: records the report, stops the servers
  local impl=$1 label=$2 pids=$3 line status=0
  shift 3
  line=$("$bin/loadgen" "$@" --timeout 300) || status=$?
  kill $pids
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  if (( status )); then
    echo "FAILED: $impl $label: $line" >&2
    exit 1
  fi
  printf '%s\n' "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); r.update(impl=sys.argv[1], label=sys.argv[2], repeat=int(sys.argv[3])); print(json.dumps(r))' "$impl" "$label" "$repeat" >> "$results"
}

run() { # impl label args...: one server
  local impl=$1 label=$2
  shift 2
  "$bin/bench-server" "$impl" "127.0.0.1:$port" &
  local pid=$!
  wait_port "$port"
  measure "$impl" "$label" "$pid" "$@" --url "ws://127.0.0.1:$port" --server-pid "$pid"
  port=$((port + 1))
}

run_topic() { # impl (topic|group) label args...: the chanx server, as the impl reaches members
  local impl=$1 label=$2 scenario
  shift 2
  case "$impl $label" in
    "topic fanout"*) scenario=topic-fanout ;;
    "group fanout"*) scenario=fanout ;;
    "topic subscriptions"*) scenario=subscriptions ;;
    *) return 0 ;;
  esac
  "$bin/bench-server" chanx "127.0.0.1:$port" &
  local pid=$!
  wait_port "$port"
  measure "$impl" "$label" "$pid" "$scenario" "$@" --url "ws://127.0.0.1:$port" --server-pid "$pid"
  port=$((port + 1))
}

run_split() { # impl label args...: two servers on one Redis prefix
  local impl=$1 label=$2 prefix="bench$$x$port." pids=() urls=() p
  shift 2
  for p in "$port" "$((port + 1))"; do
    case $impl in
      chanx-redis) REDIS_URL="$redis_url" "$bin/bench-server" chanx-redis "127.0.0.1:$p" "$prefix" & ;;
      python) "$python" bench/python/fanout_app.py --port "$p" --redis "$redis_url" --prefix "$prefix" & ;;
    esac
    pids+=("$!")
    urls+=(--url "ws://127.0.0.1:$p")
  done
  for p in "$port" "$((port + 1))"; do wait_port "$p"; done
  measure "$impl" "$label" "${pids[*]}" "$@" "${urls[@]}"
  port=$((port + 2))
}

memory=false split=() topics=false
case $set_name in
  all | memory | redis) ;;
  topics) topics=true ;;
  *) echo "SET must be all, memory, redis or topics" >&2; exit 2 ;;
esac
[[ $set_name == all || $set_name == memory ]] && memory=true
if [[ $set_name == all || $set_name == redis ]]; then
  if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
    echo "skipping split fan-out: no Redis answers at REDIS_URL" >&2
  elif ! "$python" -c 'import chanx, fast_channels, fastapi, uvicorn' 2>/dev/null; then
    echo "skipping split fan-out's Python half: no Python Chanx at $python (set CHANX_PYTHON, or run .ci/run to make target/interop-venv)" >&2
    split=(chanx-redis)
  else
    split=(chanx-redis python)
  fi
fi

run_set() { # runner scenario...: every scenario against each implementation in $order
  local runner=$1 scenario label args impl
  shift
  for scenario in "$@"; do
    label=${scenario%%|*}
    read -r -a args <<< "${scenario#*|}"
    for impl in "${order[@]}"; do
      echo "repeat $repeat: $impl $label" >&2
      "$runner" "$impl" "$label" "${args[@]}"
    done
  done
}

for repeat in $(seq "$repeats"); do
  if $memory; then
    first=$(((repeat - 1) % ${#memory_impls[@]}))
    order=("${memory_impls[@]:first}" "${memory_impls[@]:0:first}")
    run_set run "${scenarios[@]}"
  fi
  if (( ${#split[@]} )); then
    order=("${split[@]}")
    if (( repeat % 2 == 0 && ${#split[@]} == 2 )); then order=("${split[1]}" "${split[0]}"); fi
    run_set run_split "${split_scenarios[@]}"
  fi
  if $topics; then
    order=("${topic_impls[@]}")
    if (( repeat % 2 == 0 )); then order=("${topic_impls[1]}" "${topic_impls[0]}"); fi
    run_set run_topic "${topic_scenarios[@]}"
  fi
done

python3 scripts/bench_report.py "$results"
