//! The load generator's scenarios. Every reply is checked; a wrong or missing reply
//! is an error, and a run with errors fails. Loopback only, bounded in count and time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// A client connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WELCOME: &str = "🔧 System: Connection established!";

/// What a run measured; `errors` empty means every reply was right.
#[derive(Debug, Default)]
pub struct Report {
    /// Messages answered correctly.
    pub messages: u64,
    /// Seconds from the first send to the last reply.
    pub seconds: f64,
    /// Round-trip times, microseconds.
    pub round_trip: Option<Histogram<u64>>,
    /// Handshake (upgrade + welcome) times, microseconds.
    pub handshake: Option<Histogram<u64>>,
    /// Broadcast fan-out: time until the last member had it, per round, microseconds.
    pub fanout: Vec<u64>,
    /// Split fan-out: time from a broadcast's trigger to each delivery, microseconds.
    pub delivery: Option<Histogram<u64>>,
    /// The server's CPU time (user + system) over the measured phase, seconds: from the
    /// first message sent to the last reply or copy received (connection set-up: from
    /// the first connection to the last one closed); `None` without a server pid.
    pub server_cpu: Option<f64>,
    /// The first errors (all are counted in `error_count`).
    pub errors: Vec<String>,
    /// How many errors.
    pub error_count: u64,
}

impl Report {
    fn error(&mut self, error: String) {
        self.error_count += 1;
        if self.errors.len() < 10 {
            self.errors.push(error);
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let quantiles = |h: &Option<Histogram<u64>>| match h {
            Some(h) if !h.is_empty() => json!({
                "p50_us": h.value_at_quantile(0.50), "p90_us": h.value_at_quantile(0.90),
                "p99_us": h.value_at_quantile(0.99), "max_us": h.max(),
            }),
            _ => Value::Null,
        };
        let mut fanout = self.fanout.clone();
        fanout.sort_unstable();
        json!({
            "messages": self.messages,
            "seconds": self.seconds,
            "messages_per_second": if self.seconds > 0.0 { self.messages as f64 / self.seconds } else { 0.0 },
            "round_trip": quantiles(&self.round_trip),
            "handshake": quantiles(&self.handshake),
            "delivery": quantiles(&self.delivery),
            "fanout_median_us": fanout.get(fanout.len() / 2),
            "fanout_max_us": fanout.last(),
            "server_cpu_phase_seconds": self.server_cpu,
            "server_cpu_us_per_message": self.server_cpu
                .filter(|_| self.messages > 0)
                .map(|cpu| cpu * 1e6 / self.messages as f64),
            "errors": self.error_count,
            "first_errors": self.errors,
        })
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("constant bounds are valid")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The longest a connection may take to open (and, at `/ws/system`, to welcome).
const CONNECT_LIMIT: Duration = Duration::from_secs(60);

async fn connect(url: String) -> Result<Socket, String> {
    match tokio::time::timeout(CONNECT_LIMIT, connect_async(url)).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(error)) => Err(format!("connect: {error}")),
        Err(_) => Err(format!("connect: no handshake within {CONNECT_LIMIT:?}")),
    }
}

/// Connects and waits for the welcome frame; returns the socket and the time taken.
pub async fn connect_with_welcome(base: &str) -> Result<(Socket, Duration), String> {
    let started = Instant::now();
    let mut socket = connect(format!("{base}/ws/system")).await?;
    let welcome = tokio::time::timeout(CONNECT_LIMIT, next_json(&mut socket))
        .await
        .map_err(|_| format!("no welcome within {CONNECT_LIMIT:?}"))??;
    if welcome != json!({"action": "system_echo", "payload": {"message": WELCOME}}) {
        return Err(format!("wrong welcome: {welcome}"));
    }
    Ok((socket, started.elapsed()))
}

async fn next_json(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return Err(format!("expected a text frame, got {other:?}")),
        }
    }
}

/// Echo: `connections` clients each send `messages` `user_message` frames, with up to
/// `in_flight` awaiting their reply, and check every echo in order. The server's (`server`
/// pid) CPU time is read when the clients start sending and after the last reply, before
/// any connection closes.
pub async fn echo(
    base: &str,
    connections: usize,
    messages: usize,
    in_flight: usize,
    limit: Duration,
    server: Option<u32>,
) -> Report {
    let start = Arc::new(Barrier::new(connections + 1));
    let (results, mut collected) = mpsc::unbounded_channel();
    for client in 0..connections {
        let (base, start, results) = (base.to_owned(), start.clone(), results.clone());
        tokio::spawn(async move {
            let outcome = match connect_with_welcome(&base).await {
                Ok((socket, handshake)) => {
                    start.wait().await;
                    echo_client(socket, client, messages, in_flight.max(1))
                        .await
                        .map(|(socket, rtt)| (socket, handshake, rtt))
                }
                Err(error) => {
                    start.wait().await;
                    Err(error)
                }
            };
            let _ = results.send(outcome);
        });
    }
    drop(results);
    let mut report =
        Report { round_trip: Some(histogram()), handshake: Some(histogram()), ..Report::default() };
    let mut open = Vec::with_capacity(connections);
    let run = async {
        start.wait().await;
        let cpu = CpuPhase::start(server);
        let started = Instant::now();
        while let Some(outcome) = collected.recv().await {
            match outcome {
                Ok((socket, handshake, rtt)) => {
                    open.push(socket);
                    report.messages += rtt.len() as u64;
                    if let Some(h) = report.handshake.as_mut() {
                        let _ = h.record(micros(handshake));
                    }
                    if let Some(h) = report.round_trip.as_mut() {
                        rtt.iter().for_each(|us| {
                            let _ = h.record(*us);
                        });
                    }
                }
                Err(error) => report.error(error),
            }
        }
        (started.elapsed(), cpu.end())
    };
    match tokio::time::timeout(limit, run).await {
        Ok((elapsed, cpu)) => {
            report.seconds = elapsed.as_secs_f64();
            report.server_cpu = cpu;
        }
        Err(_) => report.error(format!("the run did not finish within {limit:?}")),
    }
    for mut socket in open {
        let _ = socket.close(None).await;
    }
    report
}

/// One echo client; returns its socket, still open, and its round-trip times in
/// microseconds.
async fn echo_client(
    mut socket: Socket,
    client: usize,
    messages: usize,
    in_flight: usize,
) -> Result<(Socket, Vec<u64>), String> {
    let mut pending = VecDeque::with_capacity(in_flight);
    let mut rtt = Vec::with_capacity(messages);
    let (mut sent, mut received) = (0, 0);
    while received < messages {
        while sent < messages && pending.len() < in_flight {
            let frame = json!({"action": "user_message", "payload": {"message": format!("{client}-{sent}")}});
            socket.send(Message::text(frame.to_string())).await.map_err(|e| format!("send: {e}"))?;
            pending.push_back(Instant::now());
            sent += 1;
        }
        let reply = next_json(&mut socket).await?;
        let expected = json!({"action": "system_echo", "payload": {"message": format!("🔧 System Echo: {client}-{received}")}});
        if reply != expected {
            return Err(format!("client {client}: expected {expected}, got {reply}"));
        }
        if let Some(sent_at) = pending.pop_front() {
            rtt.push(micros(sent_at.elapsed()));
        }
        received += 1;
    }
    Ok((socket, rtt))
}

/// Connection set-up: `connections` connections in all, up to `in_flight` at a time, each
/// opened at `/ws/system` (TCP connect, upgrade, welcome), then closed (the client's close
/// frame, then the server's, then the end of the TCP stream). The rate is connections
/// per second; the server's (`server` pid) CPU time is read before the first connection
/// and after the last one ended.
pub async fn connect_close(
    base: &str,
    connections: usize,
    in_flight: usize,
    limit: Duration,
    server: Option<u32>,
) -> Report {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (results, mut collected) = mpsc::unbounded_channel();
    let cpu = CpuPhase::start(server);
    let started = Instant::now();
    for _ in 0..in_flight.max(1) {
        let (base, next, results) = (base.to_owned(), next.clone(), results.clone());
        tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < connections {
                let _ = results.send(open_and_close(&base).await);
            }
        });
    }
    drop(results);
    let mut report = Report { handshake: Some(histogram()), ..Report::default() };
    let run = async {
        while let Some(outcome) = collected.recv().await {
            match outcome {
                Ok(handshake) => {
                    report.messages += 1;
                    if let Some(h) = report.handshake.as_mut() {
                        let _ = h.record(micros(handshake));
                    }
                }
                Err(error) => report.error(error),
            }
        }
    };
    match tokio::time::timeout(limit, run).await {
        Ok(()) => {
            report.seconds = started.elapsed().as_secs_f64();
            report.server_cpu = cpu.end();
        }
        Err(_) => report.error(format!("the run did not finish within {limit:?}")),
    }
    report
}

/// One connection of [`connect_close`]; returns the time to its welcome.
async fn open_and_close(base: &str) -> Result<Duration, String> {
    let (mut socket, handshake) = connect_with_welcome(base).await?;
    let closed = async {
        socket.close(None).await.map_err(|e| format!("close: {e}"))?;
        // The server's close frame, then the end of the stream.
        loop {
            match socket.next().await {
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return Ok(()),
            }
        }
    };
    tokio::time::timeout(CONNECT_LIMIT, closed)
        .await
        .unwrap_or_else(|_| Err(format!("close: the server did not close within {CONNECT_LIMIT:?}")))?;
    Ok(handshake)
}

/// Idle: opens `connections` connections, each waiting for its welcome, then calls
/// `measure` while they are all open; returns the errors and what `measure` returned.
pub async fn idle<T>(base: &str, connections: usize, measure: impl AsyncFnOnce() -> T) -> (Report, T) {
    let mut report = Report { handshake: Some(histogram()), ..Report::default() };
    let mut open = Vec::with_capacity(connections);
    // A few connections at a time, as a real crowd would arrive.
    for batch in (0..connections).collect::<Vec<_>>().chunks(200) {
        let handshakes = batch.iter().map(|_| connect_with_welcome(base));
        for outcome in futures_util::future::join_all(handshakes).await {
            match outcome {
                Ok((socket, handshake)) => {
                    if let Some(h) = report.handshake.as_mut() {
                        let _ = h.record(micros(handshake));
                    }
                    open.push(socket);
                }
                Err(error) => report.error(error),
            }
        }
    }
    let measured = measure().await;
    for mut socket in open {
        let _ = socket.close(None).await;
    }
    (report, measured)
}

/// How fan-out members are reached: as members of a group, or as subscribers of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Connections at `/ws/fanout`, all in the group `fanout`; `fire` broadcasts.
    Group,
    /// Connections at `/ws/topics`, all subscribed to the topic `fanout:all`; `fire` on
    /// that topic pushes to it (chanx only).
    Topic,
}

/// The topic every member of an [`Audience::Topic`] fan-out subscribes to.
const FANOUT_TOPIC: &str = "fanout:all";

impl Audience {
    /// The frame that asks the server for round `round`.
    fn fire(self, round: u64) -> String {
        match self {
            Audience::Group => json!({"action": "fire", "payload": round}),
            Audience::Topic => json!({"topic": FANOUT_TOPIC, "action": "fire", "payload": round}),
        }
        .to_string()
    }
}

/// Fan-out: `members` connections (a group's members or a topic's subscribers); each of
/// `rounds` times, one member fires and the time until the last member has the copy is
/// recorded. The server's (`server` pid) CPU time is read before the first round and
/// after the last; a message is one member's copy.
pub async fn fanout(
    base: &str,
    audience: Audience,
    members: usize,
    rounds: u64,
    limit: Duration,
    server: Option<u32>,
) -> Report {
    let mut report = Report::default();
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(u64, Instant)>();
    let mut trigger = None;
    for member in 0..members {
        let joined = match audience {
            Audience::Group => fanout_member(base, member, limit).await,
            Audience::Topic => topic_member(base, member, limit).await,
        };
        match joined {
            Ok((sink, stream)) => {
                let arrivals = arrivals.clone();
                forward_rounds(stream, move |arrival| {
                    if let Ok((round, at)) = arrival {
                        let _ = arrivals.send((round, at));
                    }
                });
                if member == 0 {
                    trigger = Some(sink);
                }
            }
            Err(error) => report.error(error),
        }
    }
    let Some(mut trigger) = trigger else {
        report.error("no member connected".into());
        return report;
    };
    let connected = members - report.error_count as usize;
    let cpu = CpuPhase::start(server);
    for round in 1..=rounds {
        let fired = Instant::now();
        if let Err(error) = trigger.send(Message::text(audience.fire(round))).await {
            report.error(format!("fire: {error}"));
            break;
        }
        let mut last = fired;
        let mut count = 0;
        let all = async {
            while count < connected {
                match arrived.recv().await {
                    Some((r, at)) if r == round => {
                        count += 1;
                        last = last.max(at);
                    }
                    Some((r, _)) => {
                        return Err(format!("round {round}: a copy of round {r} arrived late or twice"));
                    }
                    None => return Err("members stopped".to_owned()),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limit, all).await {
            Ok(Ok(())) => {
                report.fanout.push(micros(last - fired));
                report.messages += count as u64;
            }
            Ok(Err(error)) => report.error(error),
            Err(_) => {
                report.error(format!("round {round}: {count} of {connected} members had it after {limit:?}"))
            }
        }
    }
    report.server_cpu = cpu.end();
    report
}

type Sink = futures_util::stream::SplitSink<Socket, Message>;
type Stream = futures_util::stream::SplitStream<Socket>;

/// Connects a fan-out member at `{base}/ws/fanout`; its pong proves it is in the group.
async fn fanout_member(base: &str, member: usize, limit: Duration) -> Result<(Sink, Stream), String> {
    let (mut sink, mut stream) = connect(format!("{base}/ws/fanout")).await?.split();
    let ready = async {
        sink.send(Message::text(r#"{"action":"ping"}"#)).await.map_err(|e| e.to_string())?;
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.contains("pong") => Ok(()),
            other => Err(format!("expected a pong, got {other:?}")),
        }
    };
    match tokio::time::timeout(limit, ready).await {
        Ok(Ok(())) => Ok((sink, stream)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!("member {member}: no pong within {limit:?}")),
    }
}

/// Connects a topic fan-out member at `{base}/ws/topics`, subscribed to [`FANOUT_TOPIC`]
/// once its `subscribed` arrives.
async fn topic_member(base: &str, member: usize, limit: Duration) -> Result<(Sink, Stream), String> {
    let (mut sink, mut stream) = connect(format!("{base}/ws/topics")).await?.split();
    let subscribe = json!({"topic": FANOUT_TOPIC, "action": "subscribe"}).to_string();
    let ready = async {
        sink.send(Message::text(subscribe)).await.map_err(|e| e.to_string())?;
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"subscribed\"") => Ok(()),
            other => Err(format!("expected `subscribed`, got {other:?}")),
        }
    };
    match tokio::time::timeout(limit, ready).await {
        Ok(Ok(())) => Ok((sink, stream)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!("member {member}: not subscribed within {limit:?}")),
    }
}

/// Subscriptions: `connections` connections at `/ws/topics`, each subscribing to
/// `per_connection` topics of its own (`fanout:<connection>-<n>`, so that every
/// subscription has its own group as well) and waiting for every `subscribed`;
/// `measure` runs once they are connected and once they are subscribed, and both
/// results are returned: their difference is what the subscriptions cost.
pub async fn subscriptions<T>(
    base: &str,
    connections: usize,
    per_connection: usize,
    limit: Duration,
    measure: impl AsyncFn() -> T,
) -> (Report, (T, T)) {
    let mut report = Report::default();
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        match connect(format!("{base}/ws/topics")).await {
            Ok(socket) => open.push(socket),
            Err(error) => report.error(error),
        }
    }
    let connected = measure().await;
    let started = Instant::now();
    for (c, socket) in open.iter_mut().enumerate() {
        let subscribed = subscribe_all(socket, c, per_connection);
        match tokio::time::timeout(limit, subscribed).await {
            Ok(Ok(())) => report.messages += per_connection as u64,
            Ok(Err(error)) => report.error(error),
            Err(_) => report.error(format!("connection {c}: not subscribed within {limit:?}")),
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    let subscribed = measure().await;
    for mut socket in open {
        let _ = socket.close(None).await;
    }
    (report, (connected, subscribed))
}

/// Sends `count` subscribes at once, then reads their `subscribed` answers.
async fn subscribe_all(socket: &mut Socket, connection: usize, count: usize) -> Result<(), String> {
    for n in 0..count {
        let frame = json!({"topic": format!("fanout:{connection}-{n}"), "action": "subscribe"});
        socket.feed(Message::text(frame.to_string())).await.map_err(|e| e.to_string())?;
    }
    socket.flush().await.map_err(|e| e.to_string())?;
    for _ in 0..count {
        let answer = next_json(socket).await?;
        if answer["action"] != "subscribed" {
            return Err(format!("expected `subscribed`, got {answer}"));
        }
    }
    Ok(())
}

/// Reads a member's broadcasts in a task of their own, reporting each round number (the
/// payload) with its arrival time, then how the connection ended.
/// A fan-out copy as the load generator reads it: its round number.
#[derive(serde::Deserialize)]
struct Round {
    payload: u64,
}

fn forward_rounds(mut stream: Stream, arrived: impl Fn(Result<(u64, Instant), String>) + Send + 'static) {
    tokio::spawn(async move {
        let end = loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    // Typed, reading only the payload: the load generator shares the
                    // machine with the servers, so its own cost per copy stays small.
                    if let Ok(Round { payload }) = serde_json::from_str::<Round>(&text) {
                        arrived(Ok((payload, Instant::now())));
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => break format!("connection ended: {other:?}"),
            }
        };
        arrived(Err(end));
    });
}

/// Split fan-out: `members` connections at `/ws/fanout`, spread in turn over the
/// servers at `bases` (processes sharing one channel layer, such as Redis). Member 0
/// fires `rounds` broadcasts, keeping up to `in_flight` of them undelivered; the time
/// from each fire to each member's copy is recorded (the load generator both fires and
/// receives, so one clock measures it). Every member must get every round once and in
/// order: a copy lost, duplicated or out of order is an error.
pub async fn split_fanout(
    bases: &[String],
    members: usize,
    rounds: u64,
    in_flight: usize,
    limit: Duration,
) -> Report {
    let mut report = Report { delivery: Some(histogram()), ..Report::default() };
    if bases.is_empty() {
        report.error("no server to connect to".into());
        return report;
    }
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(usize, Result<(u64, Instant), String>)>();
    let mut trigger = None;
    let ids: Vec<usize> = (0..members).collect();
    // A few connections at a time, as for `idle`.
    for batch in ids.chunks(200) {
        let joins = batch.iter().map(|&member| fanout_member(&bases[member % bases.len()], member, limit));
        for (&member, outcome) in batch.iter().zip(futures_util::future::join_all(joins).await) {
            match outcome {
                Ok((sink, stream)) => {
                    let arrivals = arrivals.clone();
                    forward_rounds(stream, move |arrival| {
                        let _ = arrivals.send((member, arrival));
                    });
                    if member == 0 {
                        trigger = Some(sink);
                    }
                }
                Err(error) => report.error(error),
            }
        }
    }
    let Some(mut trigger) = trigger.filter(|_| report.error_count == 0) else {
        report.error("not every member connected".into());
        return report;
    };
    // Per round: when it was fired and how many members have it; per member: the round due.
    let mut fired = vec![None; rounds as usize + 1];
    let mut copies = vec![0; rounds as usize + 1];
    let mut due = vec![1; members];
    let (mut next, mut complete, mut delivered) = (1, 0, 0u64);
    let started = Instant::now();
    let mut last = started;
    let run = async {
        while complete < rounds {
            while next <= rounds && next - 1 - complete < in_flight.max(1) as u64 {
                fired[next as usize] = Some(Instant::now());
                let frame = json!({"action": "fire", "payload": next}).to_string();
                trigger.send(Message::text(frame)).await.map_err(|e| format!("fire: {e}"))?;
                next += 1;
            }
            let (member, arrival) = arrived.recv().await.ok_or("members stopped")?;
            let (round, at) = arrival.map_err(|end| format!("member {member}: {end}"))?;
            if round != due[member] {
                return Err(format!("member {member}: round {round} arrived when {} was due", due[member]));
            }
            due[member] += 1;
            let sent = fired.get(round as usize).copied().flatten().ok_or("a round never fired")?;
            if let Some(h) = report.delivery.as_mut() {
                let _ = h.record(micros(at - sent));
            }
            delivered += 1;
            last = last.max(at);
            copies[round as usize] += 1;
            if copies[round as usize] == members {
                complete += 1;
            }
        }
        Ok::<_, String>(())
    };
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => report.error(error),
        Err(_) => {
            let lost = rounds * members as u64 - delivered;
            report.error(format!("{lost} of {} copies missing after {limit:?}", rounds * members as u64));
        }
    }
    report.messages = delivered;
    report.seconds = (last - started).as_secs_f64();
    report
}

/// Resident memory (kB) and CPU time (s, user + system) of a process, from `/proc`.
pub fn process_stats(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some((rss, cpu_seconds(pid)?))
}

/// CPU time (s) a process has used, user + system: `utime` and `stime` of
/// `/proc/PID/stat`, in clock ticks of [`clock_ticks_per_second`].
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which ends with ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks_per_second()? as f64)
}

/// The clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`, asked once).
pub fn clock_ticks_per_second() -> Option<u64> {
    static TICKS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf").arg("CLK_TCK").output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok().filter(|ticks| *ticks > 0)
    })
}

/// A server's CPU time at the start of a measured phase.
struct CpuPhase {
    server: Option<u32>,
    start: Option<f64>,
}

impl CpuPhase {
    fn start(server: Option<u32>) -> CpuPhase {
        CpuPhase { server, start: server.and_then(cpu_seconds) }
    }

    /// The CPU seconds the server used since [`CpuPhase::start`].
    fn end(&self) -> Option<f64> {
        Some(self.server.and_then(cpu_seconds)? - self.start?)
    }
}
