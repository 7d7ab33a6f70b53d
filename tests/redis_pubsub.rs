//! The Redis pub/sub channel layer across processes: two `RedisPubSubLayer`s on one
//! Redis stand for two chanx processes, and a Python Chanx process (fast-channels'
//! `RedisPubSubChannelLayer`) shares groups with them.
//!
//! The tests that need Redis are ignored unless run with `--include-ignored`; they read
//! `REDIS_URL` (default `redis://127.0.0.1:6379`). The Python interop test also needs
//! `CHANX_PYTHON`, a Python with `chanx==2.13.0` and `fast-channels[redis]==1.1.0`
//! (`.ci/run` makes one). Each test uses a prefix of its own.

use std::time::{Duration, Instant};

mod common;

use chanx::layer::redis::RedisPubSubLayer;
use chanx::layer::{ChannelLayer, LayerError, Layers};
use chanx::testing::TestClient;
use common::crowd::{Crowd, Nudge, say, shout};
use common::redis::{
    NEEDS_REDIS, broadcasts_cross_processes, crowd, events_cross_processes, expect, python_exchange,
    redis_url, send, unique_prefix, until, wait_until,
};
use serde_json::json;

/// One "process": a layer of its own on the shared Redis.
async fn process(prefix: &str) -> (RedisPubSubLayer, Layers) {
    let layer = RedisPubSubLayer::builder()
        .host(redis_url())
        .prefix(prefix)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{NEEDS_REDIS} at REDIS_URL ({}): {e}", redis_url()));
    (layer.clone(), Layers::new(layer))
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn channel_names_are_chanx_pubsub_names() {
    let prefix = unique_prefix();
    let (layer, _) = process(&prefix).await;
    let name = layer.new_channel_name();
    let hex = name.strip_prefix(&format!("{prefix}specific.")).expect("prefixed");
    assert_eq!(hex.len(), 32);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{name}");
    assert_ne!(layer.new_channel_name(), name);
    let client = TestClient::builder().layers(Layers::new(layer)).connect::<Crowd>();
    assert!(client.channel_name().starts_with(&format!("{prefix}specific.")));
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn broadcasts_reach_members_in_every_process_once_but_the_excluded() {
    let prefix = unique_prefix();
    let ((_, one), (_, two)) = (process(&prefix).await, process(&prefix).await);
    broadcasts_cross_processes(&one, &two).await;
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn events_cross_processes_by_channel_name_and_by_group() {
    let prefix = unique_prefix();
    let ((_, one), (_, two)) = (process(&prefix).await, process(&prefix).await);
    let (mut a1, mut b1) = events_cross_processes(&one, &two).await;

    // Nobody holds this name: dropped, not an error.
    let nobody = format!("{prefix}specific.00000000000000000000000000000000");
    two.default_layer()
        .send_event(&nobody, &Nudge("lost".into()))
        .await
        .expect("a name nobody holds is no error");
    a1.receive_nothing().await.expect("nothing more");
    b1.receive_nothing().await.expect("nothing more");
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn joins_leaves_and_disconnects_move_the_subscriptions() {
    let prefix = unique_prefix();
    let ((_, one), (two_layer, two)) = (process(&prefix).await, process(&prefix).await);
    let mut a1 = crowd(&one).await;
    let mut b1 = crowd(&two).await;
    let b2 = crowd(&two).await;

    send(&b1, json!({"action": "join", "payload": "vip"})).await;
    b1.receive_nothing().await.expect("joined");
    assert_eq!(two_layer.local_members("vip"), vec![b1.channel_name().to_owned()]);
    send(&a1, shout(&["vip"], false, "to vip")).await;
    expect(&mut b1, say("to vip")).await;

    send(&b1, json!({"action": "leave", "payload": "vip"})).await;
    b1.receive_nothing().await.expect("left");
    assert!(two_layer.local_members("vip").is_empty());
    send(&a1, shout(&["vip", "lobby"], false, "both")).await;
    expect(&mut a1, say("both")).await;
    assert_eq!(until(&mut b1, &say("both")).await, vec![say("both")], "the lobby copy only");

    let mut lobby = two_layer.local_members("lobby");
    lobby.sort();
    let mut expected = vec![b1.channel_name().to_owned(), b2.channel_name().to_owned()];
    expected.sort();
    assert_eq!(lobby, expected);
    b2.close(1000).await.expect("close");
    b1.close(1000).await.expect("close");
    wait_until(|| two_layer.local_members("lobby").is_empty()).await;
    send(&a1, shout(&[], false, "anyone?")).await;
    expect(&mut a1, say("anyone?")).await;
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn names_chanx_cannot_carry_are_refused() {
    let (layer, layers) = process(&unique_prefix()).await;
    let handle = layers.default_layer();
    let result = handle.broadcast_event(&Nudge("x".into())).groups(["no spaces"]).await;
    assert!(matches!(result, Err(LayerError::InvalidName { what: "group", .. })), "{result:?}");
    let result = handle.send_event("chanx.abc!1", &Nudge("x".into())).await;
    assert!(matches!(result, Err(LayerError::InvalidName { what: "channel", .. })), "{result:?}");
    let result = layer.group_add(&"g".repeat(100), "whoever").await;
    assert!(matches!(result, Err(LayerError::InvalidName { .. })), "{result:?}");
    let result = layer.group_add("fine", "nobody.here").await;
    assert!(matches!(result, Err(LayerError::UnknownChannel(_))), "{result:?}");
}

/// Runs without Redis: the layer refuses to start, in bounded time, with a reason.
#[tokio::test]
async fn unreachable_redis_is_a_clear_error_in_bounded_time() {
    let started = Instant::now();
    // Nothing listens on port 1 of the loopback.
    let result = RedisPubSubLayer::builder()
        .host("redis://127.0.0.1:1")
        .timeout(Duration::from_millis(500))
        .connect()
        .await;
    let error = result.expect_err("no Redis there");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(error, LayerError::Timeout { .. } | LayerError::Backend(_)), "{error:?}");

    let error = RedisPubSubLayer::builder().host("not a url").connect().await.expect_err("bad URL");
    assert!(matches!(error, LayerError::Backend(_)), "{error:?}");
    let error = RedisPubSubLayer::builder().prefix("my app").connect().await.expect_err("bad prefix");
    assert!(matches!(error, LayerError::InvalidName { what: "prefix", .. }), "{error:?}");
}

/// Rust and Python Chanx processes on one Redis, both ways.
#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON, run with --include-ignored"]
async fn python_chanx_shares_groups_with_chanx() {
    let prefix = unique_prefix();
    let (_, layers) = process(&prefix).await;
    let named = |name: &str| name.starts_with(&format!("{prefix}specific."));
    python_exchange(&layers, "pubsub", &[redis_url()], &prefix, named).await;
}
