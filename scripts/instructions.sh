#!/usr/bin/env bash
# User-space instructions the chanx server and the lean baseline execute, under
# `valgrind --tool=callgrind`: per echoed message, per connection set up and closed,
# and per fan-out copy. Unlike CPU time, which moves by 15 to 20% between two runs on a
# shared machine, an instruction count moves by 1 to 2%, so it shows what a change to
# the user-space path buys; the kernel's share (most of the CPU time, the same for
# both servers) is not in it.
#
# Beside the instructions, the misses of callgrind's simulated first-level instruction
# cache (32 KiB, 64-byte lines): about how many lines of code a message touches that
# were not in that cache, a measure of the code's footprint on the hot path. The
# simulation sees the server's code only; on the machine the kernel's code competes
# for the same cache, so real misses are more, for both servers.
#
#   scripts/instructions.sh
#
# Needs valgrind. Builds `bench-server` and `loadgen` in release mode, then for each
# server runs it under callgrind once with no load (its start-up and shutdown) and once
# per scenario, and prints (total - start-up) / count. Fan-out is the difference between
# 30 and 10 rounds to 1,000 members, so that the members' set-up cancels out.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
cargo build --release --quiet -p chanx-bench
bin=target/release
out=target/bench/callgrind
mkdir -p "$out"
port=9300

wait_port() { # port: until it accepts, at most 60 s (valgrind starts slowly)
  for _ in $(seq 1200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
}

counts() { # impl loadgen-args...: the server's instructions and I1 misses under this load (none if no args)
  local impl=$1 file="$out/$1.$port.out" pid
  shift
  valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$file" "$bin/bench-server" "$impl" \
    "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  wait_port "$port"
  if (( $# )); then
    "$bin/loadgen" "$@" --url "ws://127.0.0.1:$port" --timeout 600 >/dev/null
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  port=$((port + 1))
  # The totals of the events named on the `events:` line, Ir and I1mr picked by name.
  awk '/^events:/ { for (i = 2; i <= NF; i++) at[$i] = i - 1 }
       /^summary:/ { print $(at["Ir"] + 1), $(at["I1mr"] + 1) }' "$file"
}

declare -A per
per_count() { # impl key divisor less less_i1 loadgen-args...: (this load - less) / divisor
  local impl=$1 key=$2 divisor=$3 less=$4 less_i1=$5 total total_i1
  shift 5
  read -r total total_i1 < <(counts "$impl" "$@")
  per[$impl,$key]=$(((total - less) / divisor))
  per[$impl,$key,i1]=$(((total_i1 - less_i1) / divisor))
}

for impl in chanx lean; do
  read -r idle idle_i1 < <(counts "$impl")
  echo "$impl: start-up and shutdown $idle instructions, $idle_i1 I1 misses" >&2
  per_count "$impl" echo1 5000 "$idle" "$idle_i1" echo --connections 1 --messages 5000
  per_count "$impl" echo10 20000 "$idle" "$idle_i1" echo --connections 10 --messages 2000
  per_count "$impl" connect 2000 "$idle" "$idle_i1" connect --connections 2000 --in-flight 10
  read -r few few_i1 < <(counts "$impl" fanout --connections 1000 --rounds 10)
  per_count "$impl" fanout 20000 "$few" "$few_i1" fanout --connections 1000 --rounds 30
done

echo "| scenario | per | instructions: chanx | lean | chanx/lean | I1 misses: chanx | lean | chanx/lean |"
echo "|---|---|---|---|---|---|---|---|"
for row in "echo1|echo C=1, 5,000 messages|message" "echo10|echo C=10, 2,000 messages each|message" \
  "connect|connect 2,000, 10 at a time|connection" "fanout|fan-out to 1,000, 30 rounds less 10|copy"; do
  IFS='|' read -r key label unit <<< "$row"
  python3 -c 'import sys
label, unit = sys.argv[1:3]
chanx, lean, chanx_i1, lean_i1 = map(int, sys.argv[3:])
i1_ratio = f"{chanx_i1 / lean_i1:.2f}" if lean_i1 >= 10 else "-"  # a few misses: no ratio
print(f"| {label} | {unit} | {chanx:,} | {lean:,} | {chanx / lean:.2f} | {chanx_i1:,} | {lean_i1:,} | {i1_ratio} |")' \
    "$label" "$unit" "${per[chanx,$key]}" "${per[lean,$key]}" "${per[chanx,$key,i1]}" "${per[lean,$key,i1]}"
done
