#!/usr/bin/env bash
# Benchmarks chanx against the hand-written axum baseline, side by side in one run.
#
#   scripts/bench.sh [REPEATS]      (default 3)
#
# Builds both servers and the load generator in release mode, then, REPEATS times,
# runs every scenario against each server in turn (alternating which goes first), each
# scenario on a freshly started server. Writes one JSON line per run to
# target/bench/results.jsonl and prints the table of medians and chanx/baseline ratios.
# Loopback only; every run is bounded by the load generator's timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

repeats="${1:-3}"
out=target/bench
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet -p chanx-bench
bin=target/release
port=9100

scenarios=(
  "echo C=1|echo --connections 1 --messages 20000"
  "echo C=10|echo --connections 10 --messages 5000"
  "echo C=100|echo --connections 100 --messages 500"
  "echo C=1000|echo --connections 1000 --messages 50"
  "echo C=10 W=8|echo --connections 10 --messages 5000 --in-flight 8"
  "idle 10000|idle --connections 10000"
  "fanout 1000|fanout --connections 1000 --rounds 20"
  "fanout 10000|fanout --connections 10000 --rounds 10"
)

run() { # impl label args...
  local impl=$1 label=$2
  shift 2
  "$bin/bench-server" "$impl" "127.0.0.1:$port" &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  local line
  if line=$("$bin/loadgen" "$@" --url "ws://127.0.0.1:$port" --server-pid "$pid" --timeout 300); then
    printf '%s\n' "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); r.update(impl=sys.argv[1], label=sys.argv[2], repeat=int(sys.argv[3])); print(json.dumps(r))' "$impl" "$label" "$repeat" >> "$results"
  else
    echo "FAILED: $impl $label: $line" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
    exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  port=$((port + 1))
}

for repeat in $(seq "$repeats"); do
  if (( repeat % 2 )); then order=(chanx raw); else order=(raw chanx); fi
  for scenario in "${scenarios[@]}"; do
    label=${scenario%%|*}
    read -r -a args <<< "${scenario#*|}"
    for impl in "${order[@]}"; do
      echo "repeat $repeat: $impl $label" >&2
      run "$impl" "$label" "${args[@]}"
    done
  done
done

python3 scripts/bench_report.py "$results"
