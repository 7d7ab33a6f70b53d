//! Hostile and bursty clients over real sockets: the handshake checks (key, origin,
//! header size, connection limits, authentication before the upgrade), the heartbeat,
//! the inbound rate limit, the group limit, overflow closes, close replies in a busy
//! room, bursts of joins and leaves, and error frames that do not echo huge input.
//! Memory under attack is measured in `hardening_memory.rs`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::{Extension, Router};
use chanx::layer::{InMemoryLayer, Layers};
use chanx::prelude::*;
use chanx::{AuthError, Handshake, OriginPolicy, RouteOptions, Settings};
use common::{Client, WAIT, assert_alive, layers, raw, room_chat, serve, system_echo};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The System Echo app with these settings.
async fn echo_app(settings: Settings) -> SocketAddr {
    serve(system_echo::router().layer(Extension(settings))).await
}

/// The HTTP status of a WebSocket handshake with these extra headers.
async fn handshake_status(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = format!("ws://{addr}{path}").into_client_request().expect("a request");
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .expect("a header name");
        request.headers_mut().insert(name, value.parse().expect("a header value"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_socket, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("handshake failed without a status: {other}"),
    }
}

/// The HTTP status and JSON body of a handshake refused before the upgrade.
async fn refusal(addr: SocketAddr, path: &str) -> (u16, Value) {
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}{path}")).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}")
    };
    let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("a JSON body");
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn malformed_handshakes_are_refused_before_the_upgrade() {
    let settings = Settings::default();
    let stats = settings.clone();
    let addr = echo_app(settings).await;
    let bad_key = raw::request(addr, "/ws/system", "!!", &[]);
    assert_eq!(raw::handshake(addr, &bad_key).await.0, 400, "Sec-WebSocket-Key: !! is not 16 bytes");
    let no_version = raw::request(addr, "/ws/system", "dGhlIHNhbXBsZSBub25jZQ==", &[])
        .replace("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n");
    let (status, head, _) = raw::handshake(addr, &no_version).await;
    assert_eq!(status, 426, "{head}");
    assert!(head.to_ascii_lowercase().contains("sec-websocket-version: 13"), "{head}");
    let big = "x".repeat(40 * 1024);
    assert_eq!(handshake_status(addr, "/ws/system", &[("x-big", &big)]).await, 431);
    assert_eq!(stats.stats().snapshot().refused_handshake, 3);
    assert_eq!(handshake_status(addr, "/ws/system", &[]).await, 101);
}

#[tokio::test]
async fn a_foreign_browser_origin_is_refused_with_403() {
    let settings = Settings::default();
    let stats = settings.clone();
    let addr = echo_app(settings).await;
    let own = format!("http://{addr}");
    assert_eq!(handshake_status(addr, "/ws/system", &[("origin", &own)]).await, 101);
    assert_eq!(handshake_status(addr, "/ws/system", &[]).await, 101, "no Origin: not a browser");
    assert_eq!(handshake_status(addr, "/ws/system", &[("origin", "https://evil.example")]).await, 403);
    assert_eq!(stats.stats().snapshot().refused_origin, 1);

    let allowed = echo_app(Settings::default().origin(OriginPolicy::allow(["https://*.example.com"]))).await;
    assert_eq!(handshake_status(allowed, "/ws/system", &[("origin", "https://app.example.com")]).await, 101);
    assert_eq!(handshake_status(allowed, "/ws/system", &[("origin", "https://example.org")]).await, 403);
    let open = echo_app(Settings::default().origin(OriginPolicy::Any)).await;
    assert_eq!(handshake_status(open, "/ws/system", &[("origin", "https://evil.example")]).await, 101);
}

/// Waits until the app has `open` connections (the server sees a close a moment
/// after the client).
async fn until_open(settings: &Settings, open: u64) {
    tokio::time::timeout(WAIT, async {
        while settings.stats().snapshot().open != open {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the server saw the connections end");
}

#[tokio::test]
async fn connections_over_the_app_and_route_limits_get_503() {
    let settings = Settings::default().max_connections(2);
    let addr = echo_app(settings.clone()).await;
    let mut first = Client::connect(addr, "/ws/system").await;
    let _second = Client::connect(addr, "/ws/system").await;
    assert_eq!(handshake_status(addr, "/ws/system", &[]).await, 503);
    first.close(1000).await;
    until_open(&settings, 1).await;
    assert_eq!(handshake_status(addr, "/ws/system", &[]).await, 101);
    assert_eq!(settings.stats().snapshot().refused_limit, 1);

    let route_settings = Settings::default();
    let app = Router::new()
        .route(
            "/ws/one",
            system_echo::SystemMessageConsumer::route_with(RouteOptions::new().max_connections(1)),
        )
        .route("/ws/system", system_echo::SystemMessageConsumer::route())
        .layer(Extension(route_settings));
    let addr = serve(app).await;
    let _only = Client::connect(addr, "/ws/one").await;
    assert_eq!(handshake_status(addr, "/ws/one", &[]).await, 503);
    assert_eq!(handshake_status(addr, "/ws/system", &[]).await, 101, "other routes are not limited");
}

#[derive(Clone)]
struct Tokens {
    valid: &'static str,
}

/// Authenticates before the upgrade, from a query token or a session cookie.
struct Secure {
    user: String,
}

impl FromConnection<Tokens> for Secure {
    async fn from_connection(handshake: &mut Handshake<'_, Tokens>) -> Result<Self, AuthError> {
        let valid = handshake.state().valid;
        let info = handshake.connection();
        let token = info.query_param("token").or_else(|| info.cookie("session"));
        match token {
            Some(token) if token == valid => Ok(Secure { user: "alice".into() }),
            Some(_) => Err(AuthError::new(403).with_detail("unknown token")),
            None => Err(AuthError::new(401).with_detail("send ?token= or a session cookie")),
        }
    }
}

/// The name of the authenticated user.
#[message(action = "whoami")]
struct WhoAmI;

/// The user's name.
#[message(action = "you_are")]
struct YouAre(String);

#[channel]
impl Secure {
    #[ws_handler]
    async fn whoami(&mut self, _msg: WhoAmI) -> YouAre {
        YouAre(self.user.clone())
    }
}

impl Consumer for Secure {}

#[tokio::test]
async fn authentication_before_the_upgrade_refuses_with_an_http_status_and_keeps_the_user() {
    let settings = Settings::default();
    let app = Router::new()
        .route("/ws/secure", Secure::route())
        .with_state(Tokens { valid: "s3cret" })
        .layer(Extension(settings.clone()));
    let addr = serve(app).await;
    let (status, body) = refusal(addr, "/ws/secure").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"status_code": 401, "status_text": "Unauthorized", "data": {"detail": "send ?token= or a session cookie"}})
    );
    assert_eq!(handshake_status(addr, "/ws/secure?token=nope", &[]).await, 403);
    assert_eq!(settings.stats().snapshot().refused_auth, 2);
    assert_eq!(settings.stats().snapshot().accepted, 0, "no socket was opened");

    let mut client = Client::connect(addr, "/ws/secure?token=s3cret").await;
    client.send_json(json!({"action": "whoami"})).await;
    assert_eq!(client.recv().await, json!({"action": "you_are", "payload": "alice"}));
    assert_eq!(handshake_status(addr, "/ws/secure", &[("cookie", "theme=dark; session=s3cret")]).await, 101);
}

/// Authenticates with an axum extractor: a `Query` with a required `key`.
struct Keyed;

#[derive(serde::Deserialize)]
struct Key {
    #[allow(dead_code)]
    key: String,
}

impl FromConnection<()> for Keyed {
    async fn from_connection(handshake: &mut Handshake<'_, ()>) -> Result<Self, AuthError> {
        handshake.extract::<axum::extract::Query<Key>>().await?;
        Ok(Keyed)
    }
}

#[channel]
impl Keyed {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for Keyed {}

#[tokio::test]
async fn an_axum_extractor_rejection_refuses_the_upgrade_with_its_status() {
    let app = Router::new().route("/ws/keyed", Keyed::route()).layer(Extension(Settings::default()));
    let addr = serve(app).await;
    let (status, body) = refusal(addr, "/ws/keyed").await;
    assert_eq!(status, 400);
    assert_eq!(body["status_code"], 400);
    assert!(body["data"]["detail"].as_str().is_some_and(|d| d.contains("key")), "{body}");
    assert_eq!(handshake_status(addr, "/ws/keyed?key=1", &[]).await, 101);
}

#[tokio::test]
async fn the_test_client_reports_a_refusal_before_the_upgrade() {
    let mut client = chanx::testing::TestClient::builder().state(Tokens { valid: "x" }).connect::<Secure>();
    match client.receive_json().await {
        Err(chanx::testing::TestError::Refused { status, body }) => {
            assert_eq!(status, 401);
            assert_eq!(body["data"]["detail"], "send ?token= or a session cookie");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_by_the_heartbeat_and_a_reading_one_is_not() {
    // A timeout far above the interval, so that a busy test machine cannot make a
    // reading client look silent.
    let settings = Settings::default()
        .layers(layers::in_memory())
        .heartbeat(Duration::from_millis(50), Duration::from_secs(1));
    let addr = serve(room_chat::router().layer(Extension(settings.clone()))).await;
    // A client that neither reads nor answers: it only reads at the end, to see the close.
    let mut silent = raw::connect(addr, "/ws/room/quiet").await;
    let (code, seen) = raw::read_until_close(&mut silent, WAIT).await;
    assert_eq!(code, Some(1011), "closed by the heartbeat after {seen:?}");
    assert!(seen.iter().any(|(opcode, _)| *opcode == 0x9), "server pings came first: {seen:?}");
    assert_eq!(settings.stats().snapshot().heartbeat_timeouts, 1);

    // A client that reads answers the pings (tungstenite does) and stays: many
    // heartbeat timeouts' worth of pings arrive, and it still works.
    let (mut reader, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/room/busy")).await.expect("connect");
    let mut pings = 0;
    while pings < 20 {
        match tokio::time::timeout(WAIT, reader.next()).await.expect("a frame") {
            Some(Ok(Ws::Ping(_))) => pings += 1,
            other => panic!("expected pings, got {other:?}"),
        }
    }
    reader.send(Ws::text(r#"{"action":"ping"}"#)).await.expect("send");
    loop {
        match tokio::time::timeout(WAIT, reader.next()).await.expect("a frame") {
            Some(Ok(Ws::Text(text))) => {
                break assert_eq!(text.as_str(), r#"{"action":"pong","payload":null}"#);
            }
            Some(Ok(Ws::Ping(_))) => continue,
            other => panic!("expected the pong, got {other:?}"),
        }
    }
    assert_eq!(settings.stats().snapshot().heartbeat_timeouts, 1);
}

#[tokio::test]
async fn a_flooding_client_gets_a_rate_limited_error_then_1008() {
    let settings = Settings::default().inbound_rate(1, 5);
    let addr = echo_app(settings.clone()).await;
    let mut client = Client::connect(addr, "/ws/system").await;
    client.recv().await;
    for _ in 0..50 {
        client.send_text(r#"{"action":"ping"}"#).await;
    }
    let mut pongs = 0;
    let error = loop {
        let frame = client.recv().await;
        if frame["action"] == "pong" {
            pongs += 1;
        } else {
            break frame;
        }
    };
    // The burst passes (a slow machine may refill a token or two meanwhile).
    assert!((5..10).contains(&pongs), "{pongs} pongs");
    assert_eq!(error["action"], "error");
    assert_eq!(error["payload"][0]["type"], "rate_limited", "{error}");
    assert_eq!(client.recv_close().await.0, 1008);
    let stats = settings.stats().snapshot();
    assert_eq!(stats.rate_limit_closes, 1);
    assert!(stats.rate_limited >= 5, "the frames of the run before the close: {stats:?}");
}

#[tokio::test]
async fn pings_count_against_the_rate_limit_too() {
    let addr = echo_app(Settings::default().inbound_rate(1, 10)).await;
    let mut flood = raw::connect(addr, "/ws/system").await;
    let ping = raw::frame(0x9, &[7u8; 125]);
    for _ in 0..100 {
        if flood.write_all(&ping).await.is_err() {
            break;
        }
    }
    let (code, _) = raw::read_until_close(&mut flood, WAIT).await;
    assert_eq!(code, Some(1008));
}

/// Joins groups on request.
#[derive(Default)]
struct Joiner;

/// Join the named group.
#[message(action = "join")]
struct Join(String);

#[channel]
impl Joiner {
    #[ws_handler]
    async fn join(&mut self, cx: &mut Context, msg: Join) -> chanx::Result<()> {
        cx.join_group(msg.0).await
    }
}

impl Consumer for Joiner {}

#[tokio::test]
async fn joining_more_groups_than_the_limit_fails() {
    let settings = Settings::default().max_groups(2);
    let mut client = chanx::testing::TestClient::builder().settings(settings.clone()).connect::<Joiner>();
    for group in ["a", "b", "b"] {
        client.send_json(&json!({"action": "join", "payload": group})).await.expect("send");
    }
    client.receive_nothing().await.expect("two groups and a repeat are fine");
    client.send_json(&json!({"action": "join", "payload": "c"})).await.expect("send");
    let error = client.receive_json().await.expect("an error");
    assert_eq!(
        error,
        json!({"action": "error", "payload": {"detail": "Failed to process message for join"}})
    );
    assert_eq!(settings.stats().snapshot().group_limit, 1);
}

#[tokio::test]
async fn error_frames_do_not_echo_huge_input() {
    let addr = echo_app(Settings::default()).await;
    let mut client = Client::connect(addr, "/ws/system").await;
    client.recv().await;
    let action = "a".repeat(512 * 1024);
    client.send_json(json!({"action": action})).await;
    let error = client.recv().await;
    assert_eq!(error["payload"][0]["type"], "union_tag_invalid");
    assert!(
        error.to_string().len() < 1024,
        "a short error for a 512 KiB action: {} bytes",
        error.to_string().len()
    );
    client.send_json(json!({"action": "ping", "topic": "t".repeat(512 * 1024)})).await;
    let error = client.recv().await;
    assert!(
        error.to_string().len() < 1024,
        "a short error for a 512 KiB topic: {} bytes",
        error.to_string().len()
    );
    assert_alive(&mut client).await;
}

/// Waits until `group` has `count` members.
async fn until_members(layer: &InMemoryLayer, group: &str, count: usize) {
    tokio::time::timeout(WAIT, async {
        while layer.members(group).len() != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the members joined");
}

fn notification(text: String) -> room_chat::RoomNotificationMessage {
    room_chat::RoomNotificationMessage {
        payload: room_chat::RoomMessagePayload {
            message: text,
            room_name: None,
            status: room_chat::MessageStatus::Pending,
        },
    }
}

#[tokio::test]
async fn an_overflow_close_reaches_a_slow_client_with_1013() {
    let memory = InMemoryLayer::new();
    // The room chat's `chat` layer is the default one too.
    let layers = Layers::new(memory.clone()).with("chat", memory.clone());
    let settings = Settings::default().outbound_buffer(4 * 1024).layers(layers);
    let addr = serve(room_chat::router().layer(Extension(settings.clone()))).await;
    let mut slow = raw::connect(addr, "/ws/room/hall").await;
    until_members(&memory, "room_hall", 1).await;
    let layer = settings.channel_layers().default_layer();
    let line = notification("x".repeat(1024));
    // Far more than the socket buffers and the outbound buffer hold, never waiting.
    for _ in 0..20_000 {
        layer.broadcast_message(&line).groups(["room_hall"]).await.expect("broadcast never waits");
        if settings.stats().snapshot().overflow_closes > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(settings.stats().snapshot().overflow_closes, 1, "the slow member overflowed");
    // What was already on its way arrives, then the close: its code is never lost
    // behind the full buffer.
    let (code, seen) = raw::read_until_close(&mut slow, WAIT).await;
    assert_eq!(code, Some(1013), "after {seen:?}");
}

#[tokio::test]
async fn a_client_that_sends_but_never_reads_is_closed_once_its_buffer_stays_full() {
    let settings = Settings::default()
        .heartbeat(Duration::from_millis(50), Duration::from_millis(500))
        .outbound_buffer(64 * 1024)
        .no_inbound_rate();
    let addr = echo_app(settings.clone()).await;
    let mut client = raw::connect(addr, "/ws/system").await;
    let message =
        json!({"action": "user_message", "payload": {"message": "x".repeat(64 * 1024)}}).to_string();
    let frame = raw::frame(0x1, message.as_bytes());
    // Echo requests until the server stops reading: its handler then waits for room
    // in a buffer the client never drains.
    for _ in 0..2000 {
        match tokio::time::timeout(Duration::from_secs(1), client.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    tokio::time::timeout(WAIT, async {
        while settings.stats().snapshot().overflow_closes == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("closed as a client that does not read, not held forever");
    until_open(&settings, 0).await;
}

#[tokio::test]
async fn a_clean_close_in_a_busy_room_gets_its_close_reply() {
    let settings = Settings::default().layers(layers::in_memory());
    let addr = serve(room_chat::router().layer(Extension(settings.clone()))).await;
    let layer = settings.channel_layers().get(Some("chat")).expect("the chat layer");
    let busy = tokio::spawn(async move {
        let line = notification("busy".into());
        loop {
            let _ = layer.broadcast_message(&line).groups(["room_busy"]).await;
            tokio::task::yield_now().await;
        }
    });
    for _ in 0..20 {
        let (mut member, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws/room/busy")).await.expect("connect");
        // Something of the room's traffic arrives, then the client closes.
        assert!(matches!(member.next().await, Some(Ok(Ws::Text(_)))));
        member.send(Ws::Close(None)).await.expect("send a close");
        let reply = tokio::time::timeout(WAIT, async {
            while let Some(Ok(frame)) = member.next().await {
                if let Ws::Close(_) = frame {
                    return true;
                }
            }
            false
        });
        assert!(reply.await.expect("in time"), "the server replied to the close");
    }
    busy.abort();
}

/// How a member of the burst test ended.
#[derive(Debug, PartialEq)]
enum End {
    /// It stayed and heard every leave.
    Stayed,
    /// It left and got the server's close reply.
    Replied,
    /// It left and the connection ended without a close reply.
    NoReply,
    /// The server closed it (with this code) or the connection broke.
    Kicked(Option<u16>),
}

/// Reads text frames until `count` arrived; `Err` with how the connection ended.
async fn read_texts<S>(stream: &mut S, count: usize) -> Result<(), End>
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut seen = 0;
    while seen < count {
        match stream.next().await {
            Some(Ok(Ws::Text(_))) => seen += 1,
            Some(Ok(Ws::Close(close))) => return Err(End::Kicked(close.map(|c| u16::from(c.code)))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(End::Kicked(None)),
        }
    }
    Ok(())
}

#[tokio::test]
async fn reading_members_survive_a_burst_of_1000_joins_and_700_leaves() {
    const MEMBERS: usize = 1000;
    const LEAVERS: usize = 700;
    let settings = Settings::default().layers(layers::in_memory());
    let addr = serve(room_chat::router().layer(Extension(settings.clone()))).await;
    let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel();
    let (go_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::new();
    for i in 0..MEMBERS {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws/room/burst")).await.expect("connect");
        let (ready_tx, mut go) = (ready_tx.clone(), go_tx.subscribe());
        // Every member reads all along, in a task of its own.
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            // Member i hears the join of every member after it.
            if let Err(end) = read_texts(&mut stream, MEMBERS - 1 - i).await {
                return end;
            }
            let _ = ready_tx.send(());
            let _ = go.recv().await;
            if i >= LEAVERS {
                return read_texts(&mut stream, LEAVERS).await.map_or_else(|end| end, |()| End::Stayed);
            }
            if sink.send(Ws::Close(None)).await.is_err() {
                return End::NoReply;
            }
            loop {
                match stream.next().await {
                    Some(Ok(Ws::Close(_))) => return End::Replied,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return End::NoReply,
                }
            }
        }));
    }
    let joined = async {
        for _ in 0..MEMBERS {
            ready.recv().await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), joined).await.is_err() {
        let ended: Vec<End> = futures_util::future::join_all(tasks.into_iter().filter(|t| t.is_finished()))
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        panic!("not every member heard every join; ended early: {ended:?}");
    }
    go_tx.send(()).expect("members wait");
    let mut ends = Vec::new();
    for task in tasks {
        ends.push(
            tokio::time::timeout(Duration::from_secs(120), task).await.expect("ends").expect("no panic"),
        );
    }
    let unexpected: Vec<(usize, &End)> = ends
        .iter()
        .enumerate()
        .filter(|(i, end)| **end != if *i < LEAVERS { End::Replied } else { End::Stayed })
        .collect();
    assert!(unexpected.is_empty(), "members that stayed were closed or leavers got no reply: {unexpected:?}");
    assert_eq!(settings.stats().snapshot().overflow_closes, 0);
}
