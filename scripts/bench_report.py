"""Medians and chanx/baseline ratios of scripts/bench.sh results (JSON lines)."""

import json
import statistics
import sys

# label -> (metric name, how to read it, higher is better)
METRICS = {
    "echo": ("msgs/s", lambda r: r["messages_per_second"], True),
    "idle": ("RSS bytes/conn", lambda r: r["rss_bytes_per_connection"], False),
    "fanout": ("fan-out median µs", lambda r: r["fanout_median_us"], False),
}


def main(path):
    runs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    labels = list(dict.fromkeys(r["label"] for r in runs))
    rows = []
    for label in labels:
        kind = label.split()[0]
        checks = [METRICS[kind]]
        if label == "echo C=100":
            checks.append(("p99 µs", lambda r: r["round_trip"]["p99_us"], False))
        for name, read, higher in checks:
            values = {impl: [read(r) for r in runs if r["label"] == label and r["impl"] == impl] for impl in ("chanx", "raw")}
            if not values["chanx"] or not values["raw"]:
                continue
            chanx, raw = statistics.median(values["chanx"]), statistics.median(values["raw"])
            ratio = chanx / raw if raw else float("nan")
            rows.append((label, name, chanx, min(values["chanx"]), max(values["chanx"]), raw, min(values["raw"]), max(values["raw"]), ratio, "higher" if higher else "lower"))
    print(f"| scenario | metric | chanx median (min-max) | baseline median (min-max) | chanx/baseline | better |")
    print("|---|---|---|---|---|---|")
    for label, name, c, cmin, cmax, r, rmin, rmax, ratio, better in rows:
        print(f"| {label} | {name} | {c:,.0f} ({cmin:,.0f}-{cmax:,.0f}) | {r:,.0f} ({rmin:,.0f}-{rmax:,.0f}) | {ratio:.2f} | {better} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.jsonl")
