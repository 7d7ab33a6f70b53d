//! The attack tool: replays hostile-client attacks against a running example server
//! (`cargo run --release --example room_chat -- --addr 127.0.0.1:PORT`) and reports the
//! server's memory and open file descriptors before, during and after each attack.
//!
//! ```text
//! attack SCENARIO --server-pid PID [--url ws://127.0.0.1:8000] [--duration SECS]
//!        [--clients N] [--messages K] [--message-bytes B] [--connections C]
//!        [--members M] [--leavers L] [--signal] [--rss-cap-mb MB]
//! ```
//!
//! SCENARIO is one of the following, or `all` for each in turn (`half-request-shutdown`
//! last, as it may stop the server):
//!
//! - `ping-flood`: one raw client writes 125-byte pings for `--duration` seconds
//!   (default 10) and never reads.
//! - `big-echo-no-read`: `--clients` raw clients (default 4) each send `--messages`
//!   (default 300) `user_message` frames of `--message-bytes` (default 1 MB) to
//!   `/ws/system` and never read; for at most `--duration` seconds (default 30).
//! - `slow-headers`: `--connections` TCP connections (default 1000, capped by the open
//!   files limit) send an upgrade request one byte a second for 30 s; how many are open
//!   after 5, 15 and 30 s, and whether a fresh client can connect meanwhile.
//! - `join-burst`: `--members` clients (default 1000) join `/ws/room/burst` within a
//!   second and read; then `--leavers` of them (default 700) close cleanly at once while
//!   the others stay (the leave burst, reported in the same line).
//! - `reset-after-flood`: `--clients` raw clients (default 10) each send `--messages`
//!   (default 5000) small `user_message` frames without reading (for at most
//!   `--duration` seconds, default 30), then reset the TCP connection (SO_LINGER 0).
//! - `half-request-shutdown`: sends half an HTTP request and holds it; with `--signal`
//!   sends the server SIGINT (`kill -INT`) and measures how long it takes to exit
//!   (at most 30 s), else waits `--duration` seconds for the operator to do so.
//!
//! Each scenario prints one JSON line on stdout: `scenario`, `rss_before`, `rss_peak`
//! (sampled every 100 ms during the attack and the 2 s after it), `rss_after` (2 s after
//! the attack's connections are gone), all in bytes; `fds_before`, `fds_peak`,
//! `fds_after` (the server's open descriptors); and what the attacker observed: how the
//! server ended each connection (`close CODE`, `eof`, `reset`, `open`) and after how
//! long (`*_ms`). Raw clients that never read during their attack do read afterwards
//! (at most 3 s, 64 MiB) to find the server's close frame. Hints go to stderr.
//!
//! A scenario stops early if the server's RSS passes `--rss-cap-mb` (default 3072).
//! Loopback addresses only; every loop is bounded in count and time. The exit code is
//! non-zero if a scenario could not run (the server's behaviour under attack is
//! reported, not judged). `scripts/soak.sh` runs them all against a fresh server.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chanx_bench::load;
use chanx_bench::probe::{self, Abort, Monitor};
use chanx_bench::raw::{self, Target, millis, opcode};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SCENARIOS: [&str; 6] = [
    "ping-flood",
    "big-echo-no-read",
    "slow-headers",
    "join-burst",
    "reset-after-flood",
    "half-request-shutdown",
];

/// A write that makes no progress for this long means the server stopped reading.
const STALL: Duration = Duration::from_secs(5);
/// How long a raw client reads after its attack to see how the server ended it.
const OBSERVE: Duration = Duration::from_secs(3);
/// ... and how much it reads at most.
const OBSERVE_BYTES: u64 = 64 << 20;
/// The memory is measured this long after an attack's connections are gone.
const SETTLE: Duration = Duration::from_secs(2);

struct Args {
    scenario: String,
    target: Target,
    pid: u32,
    duration: Option<Duration>,
    clients: Option<usize>,
    messages: Option<u64>,
    message_bytes: usize,
    connections: usize,
    members: usize,
    leavers: usize,
    signal: bool,
    rss_cap: u64,
}

impl Args {
    fn duration(&self, default: u64) -> Duration {
        self.duration.unwrap_or(Duration::from_secs(default))
    }
}

fn parse() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let scenario = raw.next().ok_or_else(|| format!("missing scenario: all, {}", SCENARIOS.join(", ")))?;
    if scenario != "all" && !SCENARIOS.contains(&scenario.as_str()) {
        return Err(format!("unknown scenario {scenario}: all, {}", SCENARIOS.join(", ")));
    }
    let (mut url, mut pid) = ("ws://127.0.0.1:8000".to_owned(), None);
    let mut args = Args {
        scenario,
        target: Target::parse(&url)?,
        pid: 0,
        duration: None,
        clients: None,
        messages: None,
        message_bytes: 1_000_000,
        connections: 1000,
        members: 1000,
        leavers: 700,
        signal: false,
        rss_cap: 3072 << 20,
    };
    while let Some(flag) = raw.next() {
        if flag == "--signal" {
            args.signal = true;
            continue;
        }
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--url" => url = value.clone(),
            "--server-pid" => pid = Some(u32::try_from(number()?).map_err(|e| format!("{flag}: {e}"))?),
            "--duration" => args.duration = Some(Duration::from_secs(number()?)),
            "--clients" => args.clients = Some(number()? as usize),
            "--messages" => args.messages = Some(number()?),
            "--message-bytes" => args.message_bytes = number()? as usize,
            "--connections" => args.connections = number()? as usize,
            "--members" => args.members = number()? as usize,
            "--leavers" => args.leavers = number()? as usize,
            "--rss-cap-mb" => args.rss_cap = number()? << 20,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    args.target = Target::parse(&url)?;
    args.pid = pid.ok_or("--server-pid PID is required")?;
    if probe::exited(args.pid) {
        return Err(format!("no running process {}", args.pid));
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
    let scenarios: Vec<&str> = match args.scenario.as_str() {
        "all" => SCENARIOS.to_vec(),
        one => vec![one],
    };
    let mut failed = false;
    for scenario in scenarios {
        if probe::exited(args.pid) {
            println!("{}", json!({"scenario": scenario, "error": "the server is not running"}));
            failed = true;
            continue;
        }
        eprintln!("attack: {scenario}");
        let report = measured(scenario, &args).await;
        failed |= report.get("error").is_some();
        println!("{report}");
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Runs one scenario between two measurements of the server.
async fn measured(scenario: &str, args: &Args) -> Value {
    let pid = args.pid;
    let (rss_before, fds_before) = (probe::rss_bytes(pid), probe::fd_count(pid));
    let monitor = Monitor::start(pid, args.rss_cap);
    let abort = monitor.abort();
    let started = Instant::now();
    let observed = match scenario {
        "ping-flood" => ping_flood(args, &abort).await,
        "big-echo-no-read" => big_echo(args, &abort).await,
        "slow-headers" => slow_headers(args, &abort).await,
        "join-burst" => join_burst(args, &abort).await,
        "reset-after-flood" => reset_after_flood(args, &abort).await,
        "half-request-shutdown" => half_request_shutdown(args).await,
        other => Err(format!("unknown scenario {other}")),
    };
    let seconds = started.elapsed().as_secs_f64();
    // The server may still be working off the attack: keep sampling while it settles.
    tokio::time::sleep(SETTLE).await;
    let peaks = monitor.stop();
    let report = json!({
        "scenario": scenario,
        "rss_before": rss_before,
        "rss_peak": peaks.rss,
        "rss_after": probe::rss_bytes(pid),
        "fds_before": fds_before,
        "fds_peak": peaks.fds,
        "fds_after": probe::fd_count(pid),
        "rss_cap_hit": peaks.capped,
        "server_running": !probe::exited(pid),
        "seconds": seconds,
    });
    match observed {
        Ok(observed) => merged([report, observed]),
        Err(error) => merged([report, json!({"error": error})]),
    }
}

/// Counts of labels, as a JSON object.
fn tally<S: AsRef<str>>(labels: impl IntoIterator<Item = S>) -> Value {
    let mut counts = BTreeMap::<String, u64>::new();
    for label in labels {
        *counts.entry(label.as_ref().to_owned()).or_default() += 1;
    }
    json!(counts)
}

/// min / median / max of some counts.
fn spread(mut values: Vec<u64>) -> Value {
    values.sort_unstable();
    json!({"min": values.first(), "median": values.get(values.len() / 2), "max": values.last()})
}

/// One raw client: upgrades at `/ws/system`, floods `chunk` (see [`raw::flood`]), then reads
/// to see how the server ended the connection. `Err` if the upgrade failed.
async fn raw_attacker(
    target: &Target,
    chunk: &[u8],
    max_chunks: u64,
    deadline: Instant,
    abort: &Abort,
) -> Result<(raw::Flood, raw::Observed), String> {
    let mut socket = target.upgrade("/ws/system").await?;
    let flood = raw::flood(&mut socket.stream, chunk, max_chunks, deadline, STALL, abort).await;
    let observed = raw::observe(&mut socket, OBSERVE, OBSERVE_BYTES).await;
    Ok((flood, observed))
}

/// Merges JSON objects.
fn merged(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut out = serde_json::Map::new();
    for part in parts {
        if let Value::Object(fields) = part {
            out.extend(fields);
        }
    }
    Value::Object(out)
}

async fn ping_flood(args: &Args, abort: &Abort) -> Result<Value, String> {
    const BATCH: u64 = 512;
    let chunk = raw::frame(opcode::PING, &[b'p'; 125]).repeat(BATCH as usize);
    let deadline = Instant::now() + args.duration(10);
    let (flood, observed) = raw_attacker(&args.target, &chunk, u64::MAX, deadline, abort).await?;
    let pings = json!({"pings_sent": flood.chunks * BATCH});
    Ok(merged([pings, flood.to_json(), observed.to_json()]))
}

/// Runs `count` clients at once; returns what those that ran returned and the errors of
/// the others, or an error if none ran.
async fn crowd<T, F>(count: usize, client: impl Fn() -> F) -> Result<(Vec<T>, Vec<String>), String>
where
    T: Send + 'static,
    F: Future<Output = Result<T, String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..count).map(|_| tokio::spawn(client())).collect();
    let (mut done, mut errors) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await {
            Ok(Ok(result)) => done.push(result),
            Ok(Err(error)) => errors.push(error),
            Err(error) => errors.push(format!("client task: {error}")),
        }
    }
    if done.is_empty() {
        return Err(format!("no client could run: {}", errors_json(&errors)));
    }
    Ok((done, errors))
}

/// The first few errors, and how many there were.
fn errors_json(errors: &[String]) -> Value {
    json!({"count": errors.len(), "first": errors.iter().take(5).collect::<Vec<_>>()})
}

async fn big_echo(args: &Args, abort: &Abort) -> Result<Value, String> {
    let (clients, count) = (args.clients.unwrap_or(4), args.messages.unwrap_or(300));
    let frame = Arc::new(raw::user_message(&"x".repeat(args.message_bytes)));
    let deadline = Instant::now() + args.duration(30);
    let (results, errors) = crowd(clients, || {
        let (target, frame, abort) = (args.target.clone(), frame.clone(), abort.clone());
        async move { raw_attacker(&target, &frame, count, deadline, &abort).await }
    })
    .await?;
    let per_client: Vec<Value> = results
        .iter()
        .map(|(flood, observed)| {
            merged([json!({"messages_sent": flood.chunks}), flood.to_json(), observed.to_json()])
        })
        .collect();
    Ok(json!({
        "clients": clients,
        "message_bytes": args.message_bytes,
        "connect_errors": errors_json(&errors),
        "messages_sent": results.iter().map(|(flood, _)| flood.chunks).sum::<u64>(),
        "server_endings": tally(results.iter().map(|(_, observed)| observed.ending.label())),
        "per_client": per_client,
    }))
}

async fn reset_after_flood(args: &Args, abort: &Abort) -> Result<Value, String> {
    let (clients, count) = (args.clients.unwrap_or(10), args.messages.unwrap_or(5000));
    let frame = Arc::new(raw::user_message("reset-after-flood"));
    let deadline = Instant::now() + args.duration(30);
    let (floods, errors) = crowd(clients, || {
        let (target, frame, abort) = (args.target.clone(), frame.clone(), abort.clone());
        async move {
            let socket = target.upgrade("/ws/system").await?;
            let mut stream = socket.stream;
            let flood = raw::flood(&mut stream, &frame, count, deadline, STALL, &abort).await;
            // Closing with SO_LINGER 0 sends a reset instead of a FIN.
            let linger = stream.set_zero_linger().map_err(|e| format!("SO_LINGER: {e}"));
            drop(stream);
            linger.map(|()| flood)
        }
    })
    .await?;
    eprintln!(
        "reset-after-flood: {} clients reset their connections; check how much the server logged \
         (scripts/soak.sh counts the log's lines and bytes)",
        floods.len()
    );
    Ok(json!({
        "clients": clients,
        "connect_errors": errors_json(&errors),
        "messages_sent": floods.iter().map(|f| f.chunks).sum::<u64>(),
        "flood_ends": tally(floods.iter().map(|f| f.end.to_string())),
        "flood_ms_max": floods.iter().map(|f| millis(f.after)).max(),
    }))
}

/// The time points of `slow-headers`, seconds from its start.
const CHECKPOINTS: [u64; 3] = [5, 15, 30];

/// What one slow-headers connection saw: when and how the server ended it.
struct Slow {
    closed: Option<(Duration, String)>,
    bytes_sent: usize,
}

async fn slow_headers(args: &Args, abort: &Abort) -> Result<Value, String> {
    // Keep some descriptors for the fresh clients and the runtime.
    let limit = probe::open_files_limit().unwrap_or(1024);
    let count = args.connections.min(limit.saturating_sub(200) as usize);
    let request: Arc<[u8]> = args.target.upgrade_request("/ws/system").into_bytes().into();
    let started = Instant::now();
    let end = started + Duration::from_secs(CHECKPOINTS[2]) + Duration::from_millis(500);
    let probes = tokio::spawn(fresh_clients(args.target.base.clone(), started, [3, 10, 20]));
    let (slow, errors) = crowd(count, || {
        let (target, request, abort) = (args.target.clone(), request.clone(), abort.clone());
        async move {
            let mut stream = target.connect_tcp().await?;
            let mut slow = Slow { closed: None, bytes_sent: 0 };
            let mut buf = [0; 256];
            while Instant::now() < end && !abort.is_set() {
                if let Some(byte) = request.get(slow.bytes_sent) {
                    if let Err(error) = stream.write_all(&[*byte]).await {
                        let ending = format!("write failed: {}", error.kind());
                        slow.closed = Some((started.elapsed(), ending));
                        break;
                    }
                    slow.bytes_sent += 1;
                }
                let ending = match tokio::time::timeout_at(
                    (Instant::now() + Duration::from_secs(1)).min(end),
                    stream.read(&mut buf),
                )
                .await
                {
                    Err(_) => continue,
                    Ok(Ok(0)) => raw::Ending::Eof.label(),
                    Ok(Ok(n)) => {
                        let response = String::from_utf8_lossy(&buf[..n]);
                        format!("response: {}", response.lines().next().unwrap_or_default())
                    }
                    Ok(Err(error)) => raw::Ending::Error(error.kind().to_string()).label(),
                };
                slow.closed = Some((started.elapsed(), ending));
                break;
            }
            Ok(slow)
        }
    })
    .await?;
    let probes = probes.await.map_err(|e| format!("fresh clients: {e}"))?;
    let open_at = |second: u64| {
        let at = Duration::from_secs(second);
        slow.iter().filter(|s| s.closed.as_ref().is_none_or(|(closed, _)| *closed > at)).count()
    };
    let open: serde_json::Map<String, Value> =
        CHECKPOINTS.iter().map(|&s| (format!("{s}s"), json!(open_at(s)))).collect();
    Ok(json!({
        "connections": count,
        "connect_errors": errors_json(&errors),
        "open_after": open,
        "endings": tally(slow.iter().map(|s| s.closed.as_ref().map_or("open", |(_, how)| how.as_str()))),
        "first_close_ms": slow.iter().filter_map(|s| s.closed.as_ref().map(|(at, _)| millis(*at))).min(),
        "max_bytes_sent": slow.iter().map(|s| s.bytes_sent).max(),
        "fresh_clients": probes,
    }))
}

/// Whether a normal client can connect (and get its welcome) at these seconds.
async fn fresh_clients(base: String, started: Instant, seconds: [u64; 3]) -> Vec<Value> {
    const LIMIT: Duration = Duration::from_secs(5);
    let mut results = Vec::new();
    for second in seconds {
        tokio::time::sleep_until(started + Duration::from_secs(second)).await;
        results.push(match tokio::time::timeout(LIMIT, load::connect_with_welcome(&base)).await {
            Ok(Ok((mut socket, took))) => {
                let _ = socket.close(None).await;
                json!({"at_s": second, "connected": true, "ms": millis(took)})
            }
            Ok(Err(error)) => json!({"at_s": second, "connected": false, "error": error}),
            Err(_) => {
                json!({"at_s": second, "connected": false, "error": format!("no welcome within {LIMIT:?}")})
            }
        });
    }
    results
}

async fn half_request_shutdown(args: &Args) -> Result<Value, String> {
    let pid = args.pid;
    let mut stream = args.target.connect_tcp().await?;
    let request = args.target.upgrade_request("/ws/system");
    let half = &request.as_bytes()[..request.len() / 2];
    stream.write_all(half).await.map_err(|e| format!("half request: {e}"))?;
    eprintln!(
        "half-request-shutdown: half an HTTP request is open; the server can be sent SIGINT now (kill -INT {pid})"
    );
    let limit = if args.signal { Duration::from_secs(30) } else { args.duration(10) };
    if args.signal {
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !status.success() {
            return Err(format!("kill -INT {pid}: {status}"));
        }
    } else {
        eprintln!("half-request-shutdown: waiting up to {limit:?} for the server to exit");
    }
    let exit = exit_within(pid, limit).await;
    let mut report = json!({
        "signal_sent": args.signal,
        "wait_limit_ms": millis(limit),
        "exited": exit.is_some(),
        "exit_after_ms": exit.map(millis),
    });
    if exit.is_none() && args.signal {
        // Does the half request hold the shutdown?
        drop(stream);
        let exit = exit_within(pid, Duration::from_secs(10)).await;
        report["exit_after_dropping_the_connection_ms"] = json!(exit.map(millis));
    }
    Ok(report)
}

/// How long the process took to exit, if it did within `limit`.
async fn exit_within(pid: u32, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if probe::exited(pid) {
            return Some(started.elapsed());
        }
        if started.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the members of `join-burst` are told to do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Join,
    Leave,
    Finish,
}

/// What one member of `join-burst` saw.
#[derive(Debug, Default)]
struct Member {
    connected_ms: Option<u64>,
    connect_error: Option<String>,
    joins: u64,
    leaves: u64,
    /// How the server ended the connection, and when (ms from the burst's start).
    closed_by_server: Option<(String, u64)>,
    /// Chosen to leave in the leave burst.
    leaver: bool,
    /// A leaver's outcome: `reply close CODE`, or why there was no reply.
    leave_outcome: Option<String>,
}

fn lock(member: &Mutex<Member>) -> std::sync::MutexGuard<'_, Member> {
    member.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The longest a member lives, whatever happens.
const MEMBER_LIMIT: Duration = Duration::from_secs(120);

fn close_label(frame: Option<CloseFrame>) -> String {
    raw::Ending::CloseFrame(frame.map(|f| u16::from(f.code))).label()
}

/// A room member: connects after `delay`, counts the notices it reads, and leaves
/// cleanly or stops when told.
async fn member(
    url: String,
    delay: Duration,
    started: Instant,
    state: Arc<Mutex<Member>>,
    notices: Arc<AtomicU64>,
    mut phase: watch::Receiver<Phase>,
) {
    tokio::time::sleep(delay).await;
    let mut socket =
        match tokio::time::timeout(raw::HANDSHAKE_LIMIT, tokio_tungstenite::connect_async(url)).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(error)) => return lock(&state).connect_error = Some(error.to_string()),
            Err(_) => return lock(&state).connect_error = Some("no handshake in time".to_owned()),
        };
    lock(&state).connected_ms = Some(millis(started.elapsed()));
    loop {
        tokio::select! {
            message = socket.next() => {
                let ending = match message {
                    Some(Ok(Message::Text(text))) => {
                        notices.fetch_add(1, Ordering::Relaxed);
                        let mut state = lock(&state);
                        if text.contains("joined room") {
                            state.joins += 1;
                        } else if text.contains("left room") {
                            state.leaves += 1;
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(frame))) => close_label(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => format!("error: {error}"),
                    None => raw::Ending::Eof.label(),
                };
                lock(&state).closed_by_server = Some((ending, millis(started.elapsed())));
                return;
            }
            changed = phase.changed() => {
                let now = if changed.is_ok() { *phase.borrow() } else { Phase::Finish };
                let leaver = lock(&state).leaver;
                match now {
                    Phase::Leave if leaver => {
                        let outcome = leave(&mut socket).await;
                        lock(&state).leave_outcome = Some(outcome);
                        return;
                    }
                    Phase::Finish => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                        return;
                    }
                    Phase::Join | Phase::Leave => {}
                }
            }
        }
    }
}

/// Closes cleanly (1000) and waits for the server's close reply.
async fn leave(socket: &mut load::Socket) -> String {
    const LIMIT: Duration = Duration::from_secs(5);
    let goodbye = CloseFrame { code: CloseCode::Normal, reason: "leaving".into() };
    let outcome = async {
        if let Err(error) = socket.close(Some(goodbye)).await {
            return format!("no reply: close failed: {error}");
        }
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(reply))) => return format!("reply {}", close_label(reply)),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return format!("no reply: {error}"),
                None => return "no reply: eof".to_owned(),
            }
        }
    };
    tokio::time::timeout(LIMIT, outcome).await.unwrap_or_else(|_| format!("no reply within {LIMIT:?}"))
}

/// Polls `done` every 100 ms, for at most `limit` or until `abort`.
async fn wait_until(limit: Duration, abort: &Abort, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() && !abort.is_set() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `counter` has not moved for a second (at most 20 s).
async fn settle(counter: &AtomicU64, abort: &Abort) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = counter.load(Ordering::Relaxed);
    while !abort.is_set() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = counter.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
}

async fn join_burst(args: &Args, abort: &Abort) -> Result<Value, String> {
    let url = format!("{}/ws/room/burst", args.target.base);
    let count = args.members.max(1);
    let started = Instant::now();
    let (phase, told) = watch::channel(Phase::Join);
    let notices = Arc::new(AtomicU64::new(0));
    let members: Vec<Arc<Mutex<Member>>> = (0..count).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, state)| {
            // Spread over one second.
            let delay = Duration::from_micros(1_000_000 * i as u64 / count as u64);
            let run = member(url.clone(), delay, started, state.clone(), notices.clone(), told.clone());
            tokio::spawn(tokio::time::timeout(MEMBER_LIMIT, run))
        })
        .collect();
    let arrived = || {
        members.iter().all(|m| {
            let m = lock(m);
            m.connected_ms.is_some() || m.connect_error.is_some()
        })
    };
    wait_until(Duration::from_secs(20), abort, arrived).await;
    settle(&notices, abort).await;

    // The join burst, as it stands now.
    let snapshot: Vec<_> = members
        .iter()
        .map(|m| {
            let m = lock(m);
            (m.connected_ms, m.connect_error.clone(), m.joins, m.closed_by_server.clone())
        })
        .collect();
    let connected = snapshot.iter().filter(|s| s.0.is_some()).count() as u64;
    if connected == 0 {
        let _ = phase.send(Phase::Finish);
        return Err(format!("no member could connect: {:?}", snapshot.first().and_then(|s| s.1.clone())));
    }
    let closed: Vec<&(String, u64)> = snapshot.iter().filter_map(|s| s.3.as_ref()).collect();
    let errors: Vec<String> = snapshot.iter().filter_map(|s| s.1.clone()).collect();
    let join = json!({
        "members": count,
        "connected": connected,
        "connect_errors": errors_json(&errors),
        "last_connected_ms": snapshot.iter().filter_map(|s| s.0).max(),
        "closed_by_server": closed.len(),
        "close_codes": tally(closed.iter().map(|(how, _)| how.as_str())),
        "first_close_ms": closed.iter().map(|(_, at)| *at).min(),
        "join_notices": spread(snapshot.iter().filter(|s| s.0.is_some()).map(|s| s.2).collect()),
        "join_notices_total": snapshot.iter().map(|s| s.2).sum::<u64>(),
        // One per pair of members; concurrent joins may see each other's notice both ways.
        "join_notices_one_per_pair": connected * (connected - 1) / 2,
    });

    // The leave burst: the first `leavers` open members close at once.
    let (mut leavers, mut stayers) = (Vec::new(), Vec::new());
    for state in &members {
        let mut m = lock(state);
        if m.connected_ms.is_none() || m.closed_by_server.is_some() {
            continue;
        }
        if leavers.len() < args.leavers {
            m.leaver = true;
            leavers.push(state.clone());
        } else {
            stayers.push(state.clone());
        }
    }
    let _ = phase.send(Phase::Leave);
    wait_until(Duration::from_secs(10), abort, || leavers.iter().all(|m| lock(m).leave_outcome.is_some()))
        .await;
    settle(&notices, abort).await;
    let outcomes: Vec<String> = leavers
        .iter()
        .map(|m| lock(m).leave_outcome.clone().unwrap_or_else(|| "unfinished".to_owned()))
        .collect();
    let stayers_closed: Vec<String> = stayers
        .iter()
        .filter_map(|m| lock(m).closed_by_server.as_ref().map(|(how, _)| how.clone()))
        .collect();
    let leave = json!({
        "leavers": leavers.len(),
        "leavers_got_close_reply": outcomes.iter().filter(|o| o.starts_with("reply")).count(),
        "leave_outcomes": tally(&outcomes),
        "stayers": stayers.len(),
        "stayers_closed_by_server": stayers_closed.len(),
        "stayer_close_codes": tally(&stayers_closed),
        "leave_notices": spread(stayers.iter().map(|m| lock(m).leaves).collect()),
    });

    let _ = phase.send(Phase::Finish);
    let handles: Vec<_> = tasks.iter().map(|task| task.abort_handle()).collect();
    if tokio::time::timeout(Duration::from_secs(15), futures_util::future::join_all(tasks)).await.is_err() {
        handles.iter().for_each(|handle| handle.abort());
    }
    Ok(json!({"join": join, "leave": leave}))
}
