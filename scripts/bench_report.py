"""Medians and ratios of scripts/bench.sh results (JSON lines): chanx against the two
hand-written baselines (axum, and the lean one on fastwebsockets), chanx on Redis
against Python Chanx (split fan-out), and chanx's topic pushes against its group
broadcasts, with the memory of a subscription."""

import json
import statistics
import sys


def cpu(r):
    """The server's CPU µs per message (per copy, per connection), if it was measured."""
    return r.get("server_cpu_us_per_message")


# scenario kind -> [(metric name, how to read it, higher is better)]
METRICS = {
    "echo": [("msgs/s", lambda r: r["messages_per_second"], True), ("CPU µs/msg", cpu, False)],
    "idle": [("RSS bytes/conn", lambda r: r["rss_bytes_per_connection"], False)],
    "fanout": [("fan-out median µs", lambda r: r["fanout_median_us"], False), ("CPU µs/copy", cpu, False)],
    "connect": [("connections/s", lambda r: r["messages_per_second"], True), ("CPU µs/conn", cpu, False)],
    "subscriptions": [("RSS bytes/subscription", lambda r: r.get("rss_bytes_per_subscription"), False)],
    "split-fanout": [
        ("deliveries/s", lambda r: r["messages_per_second"], True),
        ("delivery p50 µs", lambda r: r["delivery"]["p50_us"], False),
        ("delivery p99 µs", lambda r: r["delivery"]["p99_us"], False),
    ],
}

# (implementation, its column title), [(compared with, its column title, ratio title)]
TABLES = [
    (("chanx", "chanx"), [("raw", "baseline", "chanx/baseline"), ("lean", "lean", "chanx/lean")]),
    (("chanx-redis", "chanx (Redis)"), [("python", "Python Chanx", "chanx/Python")]),
    (("topic", "topic push"), [("group", "group broadcast", "topic/group")]),
]

# The target for the memory of an idle subscription, bytes.
SUBSCRIPTION_TARGET = 1024

# The targets for chanx's server CPU against the lean baseline's: the highest
# chanx/lean ratio allowed, by scenario kind (echo, connection set-up) or label.
CPU_TARGETS = {"echo": 1.05, "fanout 10000": 1.10, "connect": 1.20}


def cpu_target(label, metric):
    """The target of a row, or None: CPU rows only."""
    if not metric.startswith("CPU"):
        return None
    return CPU_TARGETS.get(label, CPU_TARGETS.get(label.split()[0]))


def cell(median, values):
    """A median with the range of the values."""
    digits = 0 if median >= 100 else 1
    return f"{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def table(runs, ours, others):
    """The Markdown table of the labels run by chanx and at least one other, or None."""
    impl, title = ours
    targets = any(other == "lean" for other, _, _ in others)
    rows = []
    for label in dict.fromkeys(r["label"] for r in runs):
        checks = list(METRICS[label.split()[0]])
        if label == "echo C=100":
            checks.append(("p99 µs", lambda r: r["round_trip"]["p99_us"], False))
        for name, read, higher in checks:
            values = {}
            for i in [impl, *(other for other, _, _ in others)]:
                found = [read(r) for r in runs if r["label"] == label and r["impl"] == i]
                values[i] = [v for v in found if v is not None]
            if not values[impl] or not any(values[other] for other, _, _ in others):
                continue
            medians = {i: statistics.median(v) for i, v in values.items() if v}
            cells = [cell(medians[i], values[i]) if i in medians else "—" for i, _, _ in others]
            ratios = {}
            for other, _, _ in others:
                if other in medians:
                    ratios[other] = medians[impl] / medians[other] if medians[other] else float("nan")
            ratio_cells = [f"{ratios[o]:.2f}" if o in ratios else "—" for o, _, _ in others]
            row = [label, name, cell(medians[impl], values[impl]), *cells, *ratio_cells]
            row.append("higher" if higher else "lower")
            if targets:
                limit = cpu_target(label, name)
                if limit is None or "lean" not in ratios:
                    row.append("—")
                else:
                    row.append(f"<= {limit:.2f} {'✓' if ratios['lean'] <= limit else '✗'}")
            rows.append("| " + " | ".join(row) + " |")
    if not rows:
        return None
    head = ["scenario", "metric", f"{title} median (min-max)"]
    head += [f"{t} median (min-max)" for _, t, _ in others]
    head += [r for _, _, r in others] + ["better"]
    if targets:
        head.append("target (chanx/lean)")
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *rows])


def subscriptions(runs):
    """The Markdown table of the subscription memory runs, or None."""
    rows = []
    for label in dict.fromkeys(r["label"] for r in runs if r["scenario"] == "subscriptions"):
        values = [r["rss_bytes_per_subscription"] for r in runs if r["label"] == label]
        values = [v for v in values if v is not None]
        if values:
            median = statistics.median(values)
            met = "✓" if median <= SUBSCRIPTION_TARGET else "✗"
            rows.append(f"| {label} | {cell(median, values)} | <= {SUBSCRIPTION_TARGET} {met} |")
    if not rows:
        return None
    head = "| scenario | RSS bytes per subscription, median (min-max) | target |\n|---|---|---|"
    return "\n".join([head, *rows])


def main(path):
    runs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    tables = [t for t in (table(runs, *spec) for spec in TABLES) if t]
    tables.extend(t for t in [subscriptions(runs)] if t)
    print("\n\n".join(tables))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.jsonl")
