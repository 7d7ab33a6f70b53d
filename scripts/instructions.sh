#!/usr/bin/env bash
# User-space instructions the chanx server and the lean baseline execute, under
# `valgrind --tool=callgrind`: per echoed message, per connection set up and closed,
# and per fan-out copy. Unlike CPU time, which moves by 15 to 20% between two runs on a
# shared machine, an instruction count moves by 1 to 2%, so it shows what a change to
# the user-space path buys; the kernel's share (most of the CPU time, the same for
# both servers) is not in it.
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

instructions() { # impl loadgen-args...: the server's total under this load (none if no args)
  local impl=$1 file="$out/$1.$port.out" pid
  shift
  valgrind --tool=callgrind --callgrind-out-file="$file" "$bin/bench-server" "$impl" "127.0.0.1:$port" \
    >/dev/null 2>&1 &
  pid=$!
  wait_port "$port"
  if (( $# )); then
    "$bin/loadgen" "$@" --url "ws://127.0.0.1:$port" --timeout 600 >/dev/null
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  port=$((port + 1))
  callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

declare -A per
for impl in chanx lean; do
  idle=$(instructions "$impl")
  echo "$impl: start-up and shutdown $idle" >&2
  per[$impl,echo1]=$((($(instructions "$impl" echo --connections 1 --messages 5000) - idle) / 5000))
  per[$impl,echo10]=$((($(instructions "$impl" echo --connections 10 --messages 2000) - idle) / 20000))
  per[$impl,connect]=$((($(instructions "$impl" connect --connections 2000 --in-flight 10) - idle) / 2000))
  few=$(instructions "$impl" fanout --connections 1000 --rounds 10)
  many=$(instructions "$impl" fanout --connections 1000 --rounds 30)
  per[$impl,fanout]=$(((many - few) / 20000))
done

echo "| scenario | per | chanx | lean | chanx/lean |"
echo "|---|---|---|---|---|"
for row in "echo1|echo C=1, 5,000 messages|message" "echo10|echo C=10, 2,000 messages each|message" \
  "connect|connect 2,000, 10 at a time|connection" "fanout|fan-out to 1,000, 30 rounds less 10|copy"; do
  IFS='|' read -r key label unit <<< "$row"
  python3 -c 'import sys; label, unit, chanx, lean = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]); print(f"| {label} | {unit} | {chanx:,} | {lean:,} | {chanx / lean:.2f} |")' \
    "$label" "$unit" "${per[chanx,$key]}" "${per[lean,$key]}"
done
