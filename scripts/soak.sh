#!/usr/bin/env bash
# Soak test: replays the hostile-client attacks of the attack tool against the
# room_chat example and reports the server's memory, descriptors and log volume.
#
#   scripts/soak.sh [PORT] [-- EXTRA ATTACK FLAGS...]     (default port 8765)
#
# Builds room_chat and `attack` in release mode, starts room_chat on 127.0.0.1:PORT
# with RUST_LOG=info logging into target/soak/server.log, runs `attack SCENARIO --signal`
# for each scenario in turn (by default `all`, whose last one, half-request-shutdown,
# sends the server SIGINT and times its exit), writes the JSON lines to
# target/soak/results.jsonl, prints them as a table with the log's line and byte
# counts, stops the server if it still runs (SIGINT, SIGTERM for the bench server, then
# SIGKILL after 15 s) and exits non-zero only if the tool failed. Loopback only. Not
# part of `cargo test`.
#
# Two environment variables narrow or change the run (see RELIABILITY.md):
#   SOAK_SCENARIOS="ping-flood ping-flood"   these scenarios in this order (repeats allowed)
#                                            instead of `all`
#   SOAK_SERVER=bench                        attack `bench-server chanx` instead: System Echo
#                                            at /ws/system with the default limits except the
#                                            inbound rate limit (raised to 10 M frames/s), to
#                                            measure the buffer bounds behind it; it logs nothing
set -euo pipefail
cd "$(dirname "$0")/.."

port=8765
if [[ $# -gt 0 && $1 != -- ]]; then port=$1; shift; fi
if [[ ${1:-} == -- ]]; then shift; fi
out=target/soak
mkdir -p "$out"
log="$out/server.log"
results="$out/results.jsonl"
: > "$results"
ulimit -n "$(ulimit -Hn)"

scenarios=${SOAK_SCENARIOS:-all}
case ${SOAK_SERVER:-room_chat} in
  room_chat)
    cargo build -j 1 --release --quiet --example room_chat
    serve=(target/release/examples/room_chat --addr "127.0.0.1:$port") stop=INT ;;
  bench)
    cargo build -j 1 --release --quiet -p chanx-bench --bin bench-server
    # No signal handler of its own, and a background job ignores SIGINT: stop it with TERM.
    serve=(target/release/bench-server chanx "127.0.0.1:$port") stop=TERM ;;
  *) echo "soak: SOAK_SERVER is room_chat or bench, not ${SOAK_SERVER}" >&2; exit 2 ;;
esac
cargo build -j 1 --release --quiet -p chanx-bench --bin attack

RUST_LOG=info "${serve[@]}" > "$log" 2>&1 &
server=$!

stop_server() {
  if kill -0 "$server" 2>/dev/null; then
    kill -"$stop" "$server" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server" 2>/dev/null; then
      echo "soak: the server did not stop within 15 s of SIG$stop; killing it" >&2
      kill -KILL "$server" 2>/dev/null || true
    fi
  fi
  wait "$server" 2>/dev/null || true
}
trap stop_server EXIT

ready=
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
  sleep 0.05
done
if [[ -z $ready ]]; then
  echo "soak: ${serve[0]} did not listen on 127.0.0.1:$port; its log:" >&2
  cat "$log" >&2
  exit 1
fi

status=0
for scenario in $scenarios; do
  target/release/attack "$scenario" --url "ws://127.0.0.1:$port" --server-pid "$server" --signal "$@" \
    >> "$results" || status=$?
done
stop_server
trap - EXIT

python3 - "$results" "$log" <<'EOF'
import json, os, sys

results, log = sys.argv[1], sys.argv[2]
mib = lambda b: "-" if b is None else f"{b / 2**20:.1f}"
num = lambda n: "-" if n is None else str(n)
cols = ["scenario", "rss_before", "rss_peak", "rss_after", "fds_before", "fds_peak", "fds_after", "seconds"]
print(f"{'scenario':<24}{'RSS MiB: before':>16}{'peak':>9}{'after':>9}{'fds: before':>13}{'peak':>7}{'after':>7}{'secs':>7}")
details = []
for line in open(results):
    r = json.loads(line)
    print(f"{r['scenario']:<24}{mib(r.get('rss_before')):>16}{mib(r.get('rss_peak')):>9}"
          f"{mib(r.get('rss_after')):>9}{num(r.get('fds_before')):>13}{num(r.get('fds_peak')):>7}"
          f"{num(r.get('fds_after')):>7}{r.get('seconds', 0):>7.1f}")
    details.append({k: v for k, v in r.items() if k not in cols})
print()
for line, extra in zip(open(results), details):
    print(json.loads(line)["scenario"] + ": " + json.dumps(extra))
with open(log, "rb") as f:
    data = f.read()
lines = data.count(b"\n")
print(f"\nserver log {log}: {lines} lines, {len(data)} bytes")
EOF
if [[ $status -ne 0 ]]; then echo "soak: the attack tool failed (exit $status)" >&2; fi
exit "$status"
