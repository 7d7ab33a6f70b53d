//! The Redis queue channel layer across processes: several `RedisQueueLayer`s on one
//! Redis stand for several chanx processes, and a Python Chanx process (fast-channels'
//! `RedisChannelLayer`) shares groups and channels with them.
//!
//! The tests that need Redis are ignored unless run with `--include-ignored`; they read
//! `REDIS_URL` (default `redis://127.0.0.1:6379`). The Python interop test also needs
//! `CHANX_PYTHON`, a Python with `chanx==2.13.0` and `fast-channels[redis]==1.1.0`.
//! Each test uses a prefix of its own. Some look at Redis directly, or stage there what
//! a dead or foreign process would have left.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use chanx::layer::redis::{RedisQueueLayer, RedisQueueLayerBuilder};
use chanx::layer::{ChannelLayer, Kind, LayerError, LayerMessage, Layers};
use common::crowd::{Nudge, say, shout};
use common::redis::{
    NEEDS_REDIS, broadcasts_cross_processes, crowd, events_cross_processes, expect, python_exchange,
    redis_url, send, unique_prefix, until,
};
use redis::aio::MultiplexedConnection;
use serde_json::json;

/// How long the tests' groups last: what a test leaves behind goes soon.
const GROUP_EXPIRY: Duration = Duration::from_secs(120);

/// A layer under `prefix` on `hosts` (`REDIS_URL` without any).
fn on_hosts(prefix: &str, hosts: &[String]) -> RedisQueueLayerBuilder {
    let builder = RedisQueueLayer::builder().prefix(prefix).group_expiry(GROUP_EXPIRY);
    let default = [redis_url()];
    let hosts = if hosts.is_empty() { &default[..] } else { hosts };
    hosts.iter().fold(builder, |builder, host| builder.host(host))
}

fn builder(prefix: &str) -> RedisQueueLayerBuilder {
    on_hosts(prefix, &[])
}

async fn connect(builder: RedisQueueLayerBuilder) -> RedisQueueLayer {
    builder.connect().await.unwrap_or_else(|e| panic!("{NEEDS_REDIS} at REDIS_URL ({}): {e}", redis_url()))
}

/// One "process": a layer of its own on the shared Redis.
async fn process(prefix: &str) -> (RedisQueueLayer, Layers) {
    let layer = connect(builder(prefix)).await;
    (layer.clone(), Layers::new(layer))
}

/// `REDIS_URL` with database `db` instead of its own.
fn url_with_db(db: &str) -> String {
    let url = redis_url();
    match url.rsplit_once('/') {
        Some((server, current)) if current.parse::<u8>().is_ok() => format!("{server}/{db}"),
        _ => format!("{}/{db}", url.trim_end_matches('/')),
    }
}

/// A plain connection, to look at what is stored.
async fn raw() -> MultiplexedConnection {
    let client = redis::Client::open(redis_url()).expect("REDIS_URL");
    client.get_multiplexed_async_connection().await.expect(NEEDS_REDIS)
}

async fn query<T: redis::FromRedisValue>(command: &mut redis::Cmd) -> T {
    command.query_async(&mut raw().await).await.expect("a Redis command")
}

/// The key of the process that names `channel` (`<prefix>specific.<client>!`).
fn process_key(prefix: &str, channel: &str) -> String {
    let (process, _) = channel.split_once('!').expect("a process-specific name");
    format!("{prefix}{process}!")
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

/// msgpack of a short string, as msgpack-python writes it.
fn msgpack_str(text: &str) -> Vec<u8> {
    let mut packed = match text.len() {
        0..32 => vec![0xa0 | text.len() as u8],
        32..256 => vec![0xd9, text.len() as u8],
        _ => panic!("a short string"),
    };
    packed.extend(text.as_bytes());
    packed
}

/// What fast-channels stores for `send_event(Nudge(text), channel)`: 12 random bytes,
/// then the msgpack map with `__asgi_channel__`.
fn stored_nudge(text: &str, channel: &str) -> Vec<u8> {
    let mut member = b"twelve bytes".to_vec();
    member.push(0x83);
    member.extend(b"\xa4type\xb4handle_channel_event\xaaevent_data\x82\xa6action\xa5nudge\xa7payload");
    member.extend(msgpack_str(text));
    member.extend(b"\xb0__asgi_channel__");
    member.extend(msgpack_str(channel));
    member
}

fn nudge(text: &str) -> LayerMessage {
    LayerMessage::encode(Kind::Event, &Nudge(text.into())).expect("encodes")
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn channel_names_are_channels_redis_names() {
    let prefix = unique_prefix();
    let ((one, _), (two, _)) = (process(&prefix).await, process(&prefix).await);
    let name = one.new_channel_name();
    let (process, local) = name.strip_prefix("specific.").and_then(|n| n.split_once('!')).expect("a name");
    for hex in [process, local] {
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{name}");
    }
    let again = one.new_channel_name();
    assert_ne!(again, name);
    assert!(again.starts_with(&format!("specific.{process}!")), "one client prefix per process");
    assert!(!two.new_channel_name().starts_with(&format!("specific.{process}!")), "another per process");
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn broadcasts_reach_members_in_every_process_once_but_the_excluded() {
    let prefix = unique_prefix();
    let ((_, one), (_, two)) = (process(&prefix).await, process(&prefix).await);
    broadcasts_cross_processes(&one, &two).await;
}

/// A group send writes one message per process, naming its members, never one per member.
#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn a_group_send_writes_once_per_process() {
    let prefix = unique_prefix();
    // `idle` has no connection registered, so nothing takes its messages.
    let ((sender, _), (idle, _)) = (process(&prefix).await, process(&prefix).await);
    let names = [idle.new_channel_name(), idle.new_channel_name(), idle.new_channel_name()];
    for name in &names {
        sender.group_add("crowd", name).await.expect("group_add");
    }
    sender.group_send(&["crowd".to_owned()], nudge("all")).await.expect("group_send");
    let key = process_key(&prefix, &names[0]);
    let stored: Vec<Vec<u8>> = query(redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1)).await;
    assert_eq!(stored.len(), 1, "one message for the process");
    let stored = &stored[0];
    let targets = b"\xb0__asgi_channel__\x93";
    for name in &names {
        assert!(stored.windows(name.len()).any(|w| w == name.as_bytes()), "names {name}");
    }
    assert!(stored.windows(targets.len()).any(|w| w == targets), "a list of the three names");
    let ttl: i64 = query(redis::cmd("TTL").arg(&key)).await;
    assert!((1..=60).contains(&ttl), "the key expires: {ttl}");
    let group_ttl: i64 = query(redis::cmd("TTL").arg(format!("{prefix}:group:crowd"))).await;
    let expiry = GROUP_EXPIRY.as_secs() as i64;
    assert!((expiry - 60..=expiry).contains(&group_ttl), "the group expires after group_expiry: {group_ttl}");
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn events_cross_processes_by_channel_name_and_by_group() {
    let prefix = unique_prefix();
    let ((_, one), (_, two)) = (process(&prefix).await, process(&prefix).await);
    let (mut a1, _b1) = events_cross_processes(&one, &two).await;

    // A connection of this process that is gone: dropped on receipt, not an error.
    let (two_layer, _) = process(&prefix).await;
    let gone =
        format!("{}{}", a1.channel_name().split_once('!').expect("!").0, "!00000000000000000000000000000000");
    two_layer.send(&gone, nudge("nobody")).await.expect("a name nobody holds is no error");
    two.default_layer().send_event(a1.channel_name(), &Nudge("marker".into())).await.expect("send_event");
    assert_eq!(until(&mut a1, &say("nudged: marker")).await, vec![say("nudged: marker")]);
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn a_general_channel_hands_each_message_to_one_receiver_in_order() {
    let prefix = unique_prefix();
    let ((sender, _), (worker, _)) = (process(&prefix).await, process(&prefix).await);
    for text in ["one", "two", "three"] {
        sender.send("jobs", nudge(text)).await.expect("send");
    }
    for text in ["one", "two", "three"] {
        let message = worker.receive("jobs").await.expect("a job");
        assert_eq!(message.kind, Kind::Event);
        assert_eq!(message.frame.as_str(), json!({"action": "nudge", "payload": text}).to_string());
    }

    // Cancelling a receive loses nothing: what its round pops waits in flight for the
    // next call.
    let cancelled = tokio::time::timeout(Duration::from_millis(200), worker.receive("jobs")).await;
    assert!(cancelled.is_err(), "nothing to receive yet");
    sender.send("jobs", nudge("after a cancel")).await.expect("send");
    let message = tokio::time::timeout(Duration::from_secs(10), worker.receive("jobs"))
        .await
        .expect("within the wait")
        .expect("a job");
    assert_eq!(message.frame.as_str(), r#"{"action":"nudge","payload":"after a cancel"}"#);

    let result = worker.receive("specific.abc!").await;
    assert!(matches!(result, Err(LayerError::InvalidName { what: "channel", .. })), "{result:?}");
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn a_send_to_a_full_channel_fails_with_a_typed_error() {
    let prefix = unique_prefix();
    let sender = connect(builder(&prefix).capacity(2)).await;
    let (idle, _) = process(&prefix).await;
    let name = idle.new_channel_name();
    for channel in [name.as_str(), "jobs"] {
        sender.send(channel, nudge("1")).await.expect("room");
        sender.send(channel, nudge("2")).await.expect("room");
        let result = sender.send(channel, nudge("3")).await;
        assert!(matches!(&result, Err(LayerError::ChannelFull { channel: c }) if c == channel), "{result:?}");
    }
    let stored: usize = query(redis::cmd("ZCARD").arg(process_key(&prefix, &name))).await;
    assert_eq!(stored, 2);
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn a_group_send_skips_a_full_process_and_counts_it() {
    let prefix = unique_prefix();
    let sender = connect(builder(&prefix).capacity(1)).await;
    let ((idle, _), (_, live)) = (process(&prefix).await, process(&prefix).await);
    let mut member = crowd(&live).await;
    sender.group_add("lobby", &idle.new_channel_name()).await.expect("group_add");

    sender.group_send(&["lobby".to_owned()], nudge("first")).await.expect("group_send");
    assert_eq!(sender.dropped_full(), 0);
    expect(&mut member, say("nudged: first")).await;
    sender.group_send(&["lobby".to_owned()], nudge("second")).await.expect("not an error");
    assert_eq!(sender.dropped_full(), 1, "dropped for the idle process");
    expect(&mut member, say("nudged: second")).await;
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn messages_older_than_the_expiry_are_dropped_unread() {
    let prefix = unique_prefix();
    let ((sender, _), (_, two)) = (process(&prefix).await, process(&prefix).await);
    let mut b1 = crowd(&two).await;
    let key = process_key(&prefix, b1.channel_name());
    // Stored two minutes ago (expiry 60 s), by a process whose clock says so.
    let stale = stored_nudge("stale", b1.channel_name());
    let _: () = query(redis::cmd("ZADD").arg(&key).arg(now() - 120.0).arg(&stale)).await;
    sender.send(b1.channel_name(), nudge("fresh")).await.expect("send");
    assert_eq!(until(&mut b1, &say("nudged: fresh")).await, vec![say("nudged: fresh")]);

    // Senders trim them too.
    let (idle, _) = process(&prefix).await;
    let name = idle.new_channel_name();
    let idle_key = process_key(&prefix, &name);
    let _: () = query(redis::cmd("ZADD").arg(&idle_key).arg(now() - 120.0).arg(&stale)).await;
    sender.send(&name, nudge("fresh")).await.expect("send");
    let stored: Vec<Vec<u8>> = query(redis::cmd("ZRANGE").arg(&idle_key).arg(0).arg(-1)).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(name.as_bytes()), "the fresh one");
}

/// What a receiver left in `<key>$inflight` when it died between pop and hand-off goes
/// back to the key and is delivered.
#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn messages_left_in_flight_are_delivered() {
    let prefix = unique_prefix();
    let ((sender, _), (_, two)) = (process(&prefix).await, process(&prefix).await);
    let mut b1 = crowd(&two).await;
    let inflight = format!("{}$inflight", process_key(&prefix, b1.channel_name()));
    let stranded = stored_nudge("stranded", b1.channel_name());
    let _: () = query(redis::cmd("ZADD").arg(&inflight).arg(now()).arg(&stranded)).await;
    // The receive task is waiting in BZPOPMIN; a new message starts its next round.
    sender.send(b1.channel_name(), nudge("wake up")).await.expect("send");
    let mut frames =
        vec![b1.receive_json().await.expect("a frame"), b1.receive_json().await.expect("a frame")];
    frames.sort_by_key(|frame| frame.to_string());
    assert_eq!(frames, vec![say("nudged: stranded"), say("nudged: wake up")]);
    let left: usize = query(redis::cmd("ZCARD").arg(&inflight)).await;
    assert_eq!(left, 0, "acknowledged");

    // The same for a general channel.
    let stranded = stored_nudge("stranded job", "jobs");
    let jobs = format!("{prefix}jobs$inflight");
    let _: () = query(redis::cmd("ZADD").arg(&jobs).arg(now()).arg(&stranded)).await;
    let message = sender.receive("jobs").await.expect("the stranded job");
    assert_eq!(message.frame.as_str(), r#"{"action":"nudge","payload":"stranded job"}"#);
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn memberships_leave_on_disconnect() {
    let prefix = unique_prefix();
    let ((_, one), (_, two)) = (process(&prefix).await, process(&prefix).await);
    let mut a1 = crowd(&one).await;
    let mut b1 = crowd(&two).await;
    let vip = format!("{prefix}:group:vip");
    let members =
        async |key: &str| -> Vec<String> { query(redis::cmd("ZRANGE").arg(key).arg(0).arg(-1)).await };

    send(&b1, json!({"action": "join", "payload": "vip"})).await;
    b1.receive_nothing().await.expect("joined");
    assert_eq!(members(&vip).await, vec![b1.channel_name().to_owned()]);
    send(&a1, shout(&["vip"], false, "to vip")).await;
    expect(&mut b1, say("to vip")).await;

    send(&b1, json!({"action": "leave", "payload": "vip"})).await;
    b1.receive_nothing().await.expect("left");
    assert!(members(&vip).await.is_empty());

    let lobby = format!("{prefix}:group:lobby");
    assert_eq!(members(&lobby).await.len(), 2);
    send(&b1, json!({"action": "join", "payload": "vip"})).await;
    b1.receive_nothing().await.expect("joined");
    let name = b1.channel_name().to_owned();
    b1.close(1000).await.expect("close");
    let deadline = Instant::now() + Duration::from_secs(5);
    while members(&vip).await.contains(&name) || members(&lobby).await.contains(&name) {
        assert!(Instant::now() < deadline, "memberships gone within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(members(&lobby).await, vec![a1.channel_name().to_owned()]);
    send(&a1, shout(&[], false, "anyone?")).await;
    expect(&mut a1, say("anyone?")).await;
}

/// Two hosts (two databases of one Redis here): groups, process keys and general
/// channels spread over both, as channels_redis spreads them.
#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn several_hosts_shard_keys_as_channels_redis_does() {
    let prefix = unique_prefix();
    let two_hosts = || on_hosts(&prefix, &[url_with_db("11"), url_with_db("12")]);
    let (one_layer, two_layer) = (connect(two_hosts()).await, connect(two_hosts()).await);
    let (one, two) = (Layers::new(one_layer.clone()), Layers::new(two_layer.clone()));
    let mut a1 = crowd(&one).await;
    let mut b1 = crowd(&two).await;
    // Groups on both hosts: `lobby` and `room_9` hash to different ones.
    for client in [&a1, &b1] {
        send(client, json!({"action": "join", "payload": "room_9"})).await;
    }
    a1.receive_nothing().await.expect("joined");
    b1.receive_nothing().await.expect("joined");
    for group in ["lobby", "room_9"] {
        send(&a1, shout(&[group], true, group)).await;
        expect(&mut b1, say(group)).await;
    }
    two.default_layer().send_event(a1.channel_name(), &Nudge("by name".into())).await.expect("send_event");
    expect(&mut a1, say("nudged: by name")).await;
    // General channels take the hosts in turn, and so do receivers.
    for text in ["one", "two", "three", "four"] {
        one_layer.send("jobs", nudge(text)).await.expect("send");
    }
    let mut received = Vec::new();
    for _ in 0..4 {
        received.push(two_layer.receive("jobs").await.expect("a job").frame.to_string());
    }
    received.sort();
    let mut expected: Vec<String> =
        ["four", "one", "three", "two"].map(|t| json!({"action": "nudge", "payload": t}).to_string()).into();
    expected.sort();
    assert_eq!(received, expected);
}

/// The receive task, and its blocking connection, end with the layer's last clone. The
/// layer uses a database of its own, so that its connections can be told apart.
#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn the_receive_task_ends_with_the_layer() {
    const DB: &str = "13";
    let layer = connect(on_hosts(&unique_prefix(), &[url_with_db(DB)])).await;
    // `id=<n> addr=... db=<db> ... cmd=<last command>` for each client of `DB`.
    let clients = async || -> Vec<String> {
        let list: String = query(redis::cmd("CLIENT").arg("LIST")).await;
        list.lines().filter(|client| client.contains(&format!(" db={DB} "))).map(str::to_owned).collect()
    };
    let id = |client: &str| client.split(' ').next().unwrap_or_default().to_owned();
    let client = crowd(&Layers::new(layer)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let receiving = loop {
        if let Some(blocked) = clients().await.iter().find(|client| client.contains("cmd=bzpopmin")) {
            break id(blocked);
        }
        assert!(Instant::now() < deadline, "the receive task waits in BZPOPMIN within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // The connection holds the last clone; it goes once the connection has closed.
    client.close(1000).await.expect("close");
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(5);
    while clients().await.iter().any(|client| id(client) == receiving) {
        assert!(Instant::now() < deadline, "the receive task's connection is closed within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn names_channels_redis_cannot_carry_are_refused() {
    let (layer, _) = process(&unique_prefix()).await;
    let result = layer.group_send(&["no spaces".to_owned()], nudge("x")).await;
    assert!(matches!(result, Err(LayerError::InvalidName { what: "group", .. })), "{result:?}");
    for bad in ["a!b!c", "!abc", "spa ce!x", &format!("specific.{}!", "a".repeat(95))] {
        let result = layer.send(bad, nudge("x")).await;
        assert!(matches!(result, Err(LayerError::InvalidName { what: "channel", .. })), "{bad}: {result:?}");
    }
    let result = layer.group_add(&"g".repeat(100), "whoever").await;
    assert!(matches!(result, Err(LayerError::InvalidName { .. })), "{result:?}");
    layer.send("specific.abc!", nudge("x")).await.expect("a process key is a valid name");
}

/// Runs without Redis: `connect` refuses in bounded time with a reason; `build` does
/// not wait, and its operations fail in bounded time.
#[tokio::test]
async fn unreachable_redis_is_a_clear_error_in_bounded_time() {
    let limit = Duration::from_millis(500);
    // Nothing listens on port 1 of the loopback.
    let started = Instant::now();
    let error = RedisQueueLayer::builder().host("redis://127.0.0.1:1").timeout(limit).connect().await;
    let error = error.expect_err("no Redis there");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(error, LayerError::Timeout { .. } | LayerError::Backend(_)), "{error:?}");

    let layer = RedisQueueLayer::builder().host("redis://127.0.0.1:1").timeout(limit).build().expect("lazy");
    let started = Instant::now();
    let result = layer.send("jobs", nudge("x")).await;
    assert!(matches!(result, Err(LayerError::Timeout { .. } | LayerError::Backend(_))), "{result:?}");
    let result = layer.receive("jobs").await;
    assert!(matches!(result, Err(LayerError::Timeout { .. } | LayerError::Backend(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    let error = RedisQueueLayer::builder().host("not a url").build().expect_err("bad URL");
    assert!(matches!(error, LayerError::Backend(_)), "{error:?}");
    let error = RedisQueueLayer::builder().prefix("my app").build().expect_err("bad prefix");
    assert!(matches!(error, LayerError::InvalidName { what: "prefix", .. }), "{error:?}");
}

/// Rust and Python Chanx processes on one Redis, both ways.
#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON, run with --include-ignored"]
async fn python_chanx_shares_groups_and_channels_with_chanx() {
    python_chanx_both_ways(&[redis_url()]).await;
}

/// The same over two hosts (two databases of one Redis): both sides shard alike.
#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON, run with --include-ignored"]
async fn python_chanx_shards_as_chanx_does() {
    python_chanx_both_ways(&[url_with_db("11"), url_with_db("12")]).await;
}

async fn python_chanx_both_ways(hosts: &[String]) {
    let prefix = unique_prefix();
    let layers = Layers::new(connect(on_hosts(&prefix, hosts)).await);
    let named = |name: &str| name.starts_with("specific.") && name.contains('!');
    python_exchange(&layers, "queue", hosts, &prefix, named).await;
}
