//! The load generator: `loadgen SCENARIO [--url ws://HOST:PORT]... [--connections C]
//! [--messages N] [--in-flight W] [--rounds R] [--server-pid PID] [--timeout SECS]`,
//! SCENARIO being `echo`, `idle`, `fanout`, `topic-fanout`, `subscriptions`, `connect` or
//! `split-fanout`. `topic-fanout` is `fanout` through a topic's subscribers;
//! `subscriptions` opens C connections that subscribe to N (`--messages`) topics each and reports the
//! server's memory per subscription (chanx only). Prints one JSON
//! report; exits non-zero on any error (a wrong or missing reply included). `connect`
//! opens and closes C connections in all, W at a time. `split-fanout` spreads its C
//! members over every `--url` given (servers sharing a channel layer) and keeps up to W
//! broadcasts in flight; the other scenarios use the first URL. With `--server-pid`, the
//! report has the server's CPU time per message (per connection for `connect`), read
//! from `/proc` just before and just after the messages.

use std::process::ExitCode;
use std::time::Duration;

use chanx_bench::load::{self, Audience};
use serde_json::json;

struct Args {
    scenario: String,
    urls: Vec<String>,
    connections: usize,
    messages: usize,
    in_flight: usize,
    rounds: u64,
    server_pid: Option<u32>,
    timeout: Duration,
}

fn parse() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let scenario = raw.next().ok_or(
        "missing scenario: echo, idle, fanout, topic-fanout, subscriptions, connect or split-fanout",
    )?;
    let mut args = Args {
        scenario,
        urls: Vec::new(),
        connections: 10,
        messages: 1000,
        in_flight: 1,
        rounds: 10,
        server_pid: None,
        timeout: Duration::from_secs(120),
    };
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--url" => args.urls.push(value.clone()),
            "--connections" => args.connections = number()? as usize,
            "--messages" => args.messages = number()? as usize,
            "--in-flight" => args.in_flight = number()? as usize,
            "--rounds" => args.rounds = number()?,
            "--server-pid" => args.server_pid = Some(number()? as u32),
            "--timeout" => args.timeout = Duration::from_secs(number()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.urls.is_empty() {
        args.urls.push("ws://127.0.0.1:9000".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let stats = || args.server_pid.and_then(load::process_stats);
    let before = stats();
    let url = &args.urls[0];
    let mut per_subscription = None;
    let (report, during) = match args.scenario.as_str() {
        "echo" => {
            let report = load::echo(
                url,
                args.connections,
                args.messages,
                args.in_flight,
                args.timeout,
                args.server_pid,
            )
            .await;
            (report, None)
        }
        "idle" => load::idle(url, args.connections, async || stats()).await,
        "fanout" | "topic-fanout" => {
            let audience = if args.scenario == "fanout" { Audience::Group } else { Audience::Topic };
            let report =
                load::fanout(url, audience, args.connections, args.rounds, args.timeout, args.server_pid)
                    .await;
            (report, None)
        }
        "subscriptions" => {
            let (report, (connected, subscribed)) =
                load::subscriptions(url, args.connections, args.messages, args.timeout, async || stats())
                    .await;
            if let (Some((rss_connected, _)), Some((rss_subscribed, _))) = (connected, subscribed) {
                let subscriptions = (args.connections * args.messages).max(1) as f64;
                let per = rss_subscribed.saturating_sub(rss_connected) as f64 * 1024.0 / subscriptions;
                per_subscription = Some(per);
            }
            (report, None)
        }
        "connect" => {
            let report =
                load::connect_close(url, args.connections, args.in_flight, args.timeout, args.server_pid)
                    .await;
            (report, None)
        }
        "split-fanout" => {
            let report =
                load::split_fanout(&args.urls, args.connections, args.rounds, args.in_flight, args.timeout)
                    .await;
            (report, None)
        }
        other => {
            eprintln!("unknown scenario {other}");
            return ExitCode::from(2);
        }
    };
    let after = stats();
    let mut out = report.to_json();
    out["scenario"] = json!(args.scenario);
    out["connections"] = json!(args.connections);
    out["in_flight"] = json!(args.in_flight);
    out["servers"] = json!(args.urls.len());
    out["clock_ticks_per_second"] = json!(load::clock_ticks_per_second());
    if let Some(per) = per_subscription {
        out["rss_bytes_per_subscription"] = json!(per);
    }
    if args.scenario == "connect" {
        out["connections_per_second"] = out["messages_per_second"].clone();
        out["server_cpu_us_per_connection"] = out["server_cpu_us_per_message"].clone();
    }
    if let (Some((rss_before, cpu_before)), Some((rss_after, cpu_after))) = (before, after) {
        out["server_rss_kb"] = json!(rss_after);
        out["server_cpu_seconds"] = json!(cpu_after - cpu_before);
        if let Some((rss_open, _)) = during {
            out["server_rss_open_kb"] = json!(rss_open);
            let per = (rss_open.saturating_sub(rss_before)) as f64 * 1024.0 / args.connections.max(1) as f64;
            out["rss_bytes_per_connection"] = json!(per);
        }
    }
    println!("{out}");
    if report.error_count == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
