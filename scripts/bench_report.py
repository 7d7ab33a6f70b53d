"""Medians and ratios of scripts/bench.sh results (JSON lines): chanx against the
hand-written baseline, and chanx on Redis against Python Chanx (split fan-out)."""

import json
import statistics
import sys

# scenario kind -> [(metric name, how to read it, higher is better)]
METRICS = {
    "echo": [("msgs/s", lambda r: r["messages_per_second"], True)],
    "idle": [("RSS bytes/conn", lambda r: r["rss_bytes_per_connection"], False)],
    "fanout": [("fan-out median µs", lambda r: r["fanout_median_us"], False)],
    "split-fanout": [
        ("deliveries/s", lambda r: r["messages_per_second"], True),
        ("delivery p50 µs", lambda r: r["delivery"]["p50_us"], False),
        ("delivery p99 µs", lambda r: r["delivery"]["p99_us"], False),
    ],
}

# (implementation, its column title), (compared with, its column title), ratio title
TABLES = [
    (("chanx", "chanx"), ("raw", "baseline"), "chanx/baseline"),
    (("chanx-redis", "chanx (Redis)"), ("python", "Python Chanx"), "chanx/Python"),
]


def cell(median, values):
    """A median with the range of the values."""
    return f"{median:,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def table(runs, ours, theirs, ratio_title):
    """The Markdown table of the labels run by both implementations, or None."""
    (impl, title), (other, other_title) = ours, theirs
    rows = []
    for label in dict.fromkeys(r["label"] for r in runs):
        checks = list(METRICS[label.split()[0]])
        if label == "echo C=100":
            checks.append(("p99 µs", lambda r: r["round_trip"]["p99_us"], False))
        for name, read, higher in checks:
            values = {i: [read(r) for r in runs if r["label"] == label and r["impl"] == i] for i in (impl, other)}
            if not values[impl] or not values[other]:
                continue
            a, b = statistics.median(values[impl]), statistics.median(values[other])
            ratio = a / b if b else float("nan")
            better = "higher" if higher else "lower"
            rows.append(f"| {label} | {name} | {cell(a, values[impl])} | {cell(b, values[other])} | {ratio:.2f} | {better} |")
    if not rows:
        return None
    head = f"| scenario | metric | {title} median (min-max) | {other_title} median (min-max) | {ratio_title} | better |"
    return "\n".join([head, "|---|---|---|---|---|---|", *rows])


def main(path):
    runs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    tables = [t for t in (table(runs, *spec) for spec in TABLES) if t]
    print("\n\n".join(tables))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.jsonl")
