//! The wire protocol over real sockets: every row of the System Echo and error tables
//! of `PROTOCOL.md`, `ref` echo, completion frames, handler
//! failures, the size limit, disconnects and many concurrent connections.

mod common;

use axum::{Extension, Router};
use chanx::{Disconnect, Settings, Shutdown};
use common::{Client, assert_alive, probe, serve, system_echo as app};
use serde_json::{Value, json};

const WELCOME: &str = "🔧 System: Connection established!";

async fn system_client(app: Router) -> Client {
    let addr = serve(app).await;
    let mut client = Client::connect(addr, "/ws/system").await;
    assert_eq!(client.recv().await, json!({"action": "system_echo", "payload": {"message": WELCOME}}));
    client
}

fn echo_of(text: &str) -> Value {
    json!({"action": "system_echo", "payload": {"message": format!("🔧 System Echo: {text}")}})
}

#[tokio::test]
async fn system_echo_table() {
    let mut client = system_client(app::router()).await;

    client.send_json(json!({"action": "user_message", "payload": {"message": "hello"}})).await;
    assert_eq!(client.recv().await, echo_of("hello"));

    client.send_json(json!({"action": "ping"})).await;
    assert_eq!(client.recv().await, json!({"action": "pong", "payload": null}));
    client.send_json(json!({"action": "ping", "payload": null})).await;
    assert_eq!(client.recv().await, json!({"action": "pong", "payload": null}));

    client.send_json(json!({"action": "user_message", "payload": {"message": "x"}, "ref": "r1"})).await;
    let mut expected = echo_of("x");
    expected["version"] = json!(1);
    expected["ref"] = json!("r1");
    assert_eq!(client.recv().await, expected);

    client
        .send_json(json!({"action": "user_message", "payload": {"message": "x", "extra": 1}, "foo": "bar"}))
        .await;
    assert_eq!(client.recv().await, echo_of("x"));
}

#[tokio::test]
async fn reply_key_order_is_action_payload_version_ref() {
    let addr = serve(app::router()).await;
    let mut client = Client::connect(addr, "/ws/system").await;
    client.recv().await;
    client.send_text(r#"{"ref":"a","action":"ping"}"#).await;
    let text = client.recv().await.to_string();
    // serde_json keeps insertion order here (preserve_order), so this is the wire order.
    assert_eq!(text, r#"{"action":"pong","payload":null,"version":1,"ref":"a"}"#);
}

/// Sends `frame`, expects one error frame whose items have these `type`s and `loc`s,
/// and checks that the connection is still usable.
async fn expect_errors(client: &mut Client, frame: &str, expected: &[(&str, Value)]) -> Value {
    client.send_text(frame).await;
    let reply = client.recv().await;
    assert_eq!(reply["action"], "error", "for {frame}: {reply}");
    let items = reply["payload"].as_array().unwrap_or_else(|| panic!("a list payload for {frame}: {reply}"));
    let got: Vec<(&str, &Value)> =
        items.iter().map(|i| (i["type"].as_str().unwrap_or(""), &i["loc"])).collect();
    let want: Vec<(&str, &Value)> = expected.iter().map(|(t, l)| (*t, l)).collect();
    assert_eq!(got, want, "for {frame}: {reply}");
    for item in items {
        let keys: Vec<&String> = item.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["type", "loc", "msg"], "exactly type, loc, msg in {item}");
        assert!(item["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_alive(client).await;
    reply
}

#[tokio::test]
async fn error_table() {
    let mut client = system_client(app::router()).await;
    let none = json!([]);
    let invalid = expect_errors(&mut client, "this is not json", &[("json_invalid", none.clone())]).await;
    assert!(invalid["payload"][0]["msg"].as_str().is_some_and(|m| m.starts_with("Invalid JSON")));
    expect_errors(&mut client, "", &[("json_invalid", none.clone())]).await;
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":{"message":"#,
        &[("json_invalid", none.clone())],
    )
    .await;
    expect_errors(&mut client, "[1,2,3]", &[("model_type", none.clone())]).await;
    expect_errors(&mut client, r#""hello""#, &[("model_type", none.clone())]).await;
    expect_errors(&mut client, r#"{"payload":{"message":"x"}}"#, &[("union_tag_not_found", none.clone())])
        .await;
    let unknown = expect_errors(
        &mut client,
        r#"{"action":"nope","payload":{}}"#,
        &[("union_tag_invalid", none.clone())],
    )
    .await;
    let msg = unknown["payload"][0]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("'nope'") && msg.contains("'ping', 'user_message'"),
        "tag and sorted expected tags: {msg}"
    );
    expect_errors(
        &mut client,
        r#"{"action":"user_message"}"#,
        &[("missing", json!(["user_message", "payload"]))],
    )
    .await;
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":{}}"#,
        &[("missing", json!(["user_message", "payload", "message"]))],
    )
    .await;
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":{"message":123}}"#,
        &[("string_type", json!(["user_message", "payload", "message"]))],
    )
    .await;
    let null_payload = expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":null}"#,
        &[("model_type", json!(["user_message", "payload"]))],
    )
    .await;
    assert_eq!(
        null_payload["payload"][0]["msg"],
        "Input should be a valid dictionary or instance of MessagePayload"
    );
    expect_errors(
        &mut client,
        r#"{"action":"ping","payload":3}"#,
        &[("none_required", json!(["ping", "payload"]))],
    )
    .await;
    expect_errors(&mut client, r#"{"action":"ping","ref":5}"#, &[("string_type", json!(["ref"]))]).await;
    expect_errors(
        &mut client,
        r#"{"action":"ping","version":"abc"}"#,
        &[("int_parsing", json!(["version"]))],
    )
    .await;

    client.send_binary(b"\x00\x01").await;
    let binary = client.recv().await;
    assert_eq!(binary["payload"][0]["type"], "json_invalid");
    assert_eq!(binary["payload"][0]["loc"], json!([]));
    assert_alive(&mut client).await;
}

/// Frames in the usual shape, `{"action": ..., "payload": ...}`, are decoded without
/// their envelope parsed first; these look like it but are not (a key after the payload,
/// a repeated key, broken JSON after a known or unknown action), and must be answered
/// as if parsed in full.
#[tokio::test]
async fn frames_that_only_start_like_the_usual_shape_are_answered_as_parsed_in_full() {
    let mut client = system_client(app::router()).await;
    client.send_text(r#"{"action": "user_message", "payload": {"message": "spaced"} }"#).await;
    assert_eq!(client.recv().await, echo_of("spaced"));
    client.send_text(r#"{"action":"user_message","payload":{"message":"x"},"ref":"r2"}"#).await;
    let mut expected = echo_of("x");
    expected["version"] = json!(1);
    expected["ref"] = json!("r2");
    assert_eq!(client.recv().await, expected);
    client
        .send_text(r#"{"action":"user_message","payload":{"message":"a"},"payload":{"message":"b"}}"#)
        .await;
    assert_eq!(client.recv().await, echo_of("b"));
    client.send_text(r#"{"action":"user_message","payload":{"message":"t"},"topic":null}"#).await;
    assert_eq!(client.recv().await, echo_of("t"));
    let none = json!([]);
    for broken in [
        r#"{"action":"user_message","payload":{"message":"x"}}}"#,
        r#"{"action":"nope","payload":[}"#,
        r#"{"action":"ping","payload":null,}"#,
    ] {
        expect_errors(&mut client, broken, &[("json_invalid", none.clone())]).await;
    }
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":{"message":"x"},"version":"abc"}"#,
        &[("int_parsing", json!(["version"]))],
    )
    .await;
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":["x"]}"#,
        &[("model_type", json!(["user_message", "payload"]))],
    )
    .await;
}

#[tokio::test]
async fn every_invalid_field_is_listed_in_field_order() {
    let (probe, _reports) = probe::router();
    let addr = serve(probe).await;
    let mut client = Client::connect(addr, "/ws/probe").await;
    expect_errors(
        &mut client,
        r#"{"action":"echo","payload":{"count":"x"}}"#,
        &[
            ("missing", json!(["echo", "payload", "text"])),
            ("int_parsing", json!(["echo", "payload", "count"])),
        ],
    )
    .await;
}

#[tokio::test]
async fn ref_is_echoed_on_message_errors_but_not_on_frame_errors() {
    let mut client = system_client(app::router()).await;
    client.send_text(r#"{"action":"user_message","payload":{},"ref":"r2"}"#).await;
    let reply = client.recv().await;
    assert_eq!((reply["ref"].clone(), reply["version"].clone()), (json!("r2"), json!(1)));
    client.send_text(r#"{"action":"nope","ref":"r3"}"#).await;
    assert_eq!(client.recv().await["ref"], "r3");
    client.send_text(r#"{"action":"ping","ref":"r4","version":"abc"}"#).await;
    let envelope_error = client.recv().await;
    assert!(envelope_error.get("ref").is_none(), "no ref on envelope errors: {envelope_error}");
}

#[tokio::test]
async fn topic_frames_get_not_subscribed() {
    let mut client = system_client(app::router()).await;
    client.send_text(r#"{"action":"ping","topic":"t"}"#).await;
    assert_eq!(
        client.recv().await,
        json!({"action": "error", "payload": {"reason": "not_subscribed", "detail": "Not subscribed to 't'"},
               "version": 1, "topic": "t"})
    );
    assert_alive(&mut client).await;
}

#[tokio::test]
async fn completion_frames_when_enabled() {
    let app = app::router().layer(Extension(Settings::default().send_completion(true)));
    // The welcome is not followed by `complete`: the first frame after it is the echo.
    let mut client = system_client(app).await;
    client.send_json(json!({"action": "user_message", "payload": {"message": "a"}, "ref": "c1"})).await;
    let frames = client.recv_until("complete").await;
    let mut echo = echo_of("a");
    echo["version"] = json!(1);
    echo["ref"] = json!("c1");
    assert_eq!(frames, vec![echo, json!({"action": "complete", "payload": null, "version": 1, "ref": "c1"})]);

    client.send_text(r#"{"action":"user_message","payload":{}}"#).await;
    let frames = client.recv_until("complete").await;
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0]["action"], "error");

    // Frame-level errors get no completion: the next frame after the error is the pong.
    client.send_text("not json").await;
    assert_eq!(client.recv().await["action"], "error");
    client.send_text(r#"{"action":"ping"}"#).await;
    assert_eq!(client.recv_until("complete").await[0]["action"], "pong");
}

#[tokio::test]
async fn completion_is_off_by_default() {
    let mut client = system_client(app::router()).await;
    client.send_json(json!({"action": "user_message", "payload": {"message": "a"}})).await;
    assert_eq!(client.recv().await, echo_of("a"));
    // Were a `complete` queued, it would arrive before this pong.
    assert_alive(&mut client).await;
}

#[tokio::test]
async fn handler_error_and_panic_cost_one_error_frame() {
    let (probe, _reports) = probe::router();
    let probe = probe.layer(Extension(Settings::default().send_completion(true)));
    let addr = serve(probe).await;
    let mut client = Client::connect(addr, "/ws/probe").await;
    for action in ["fail", "explode"] {
        client.send_json(json!({"action": action, "ref": action})).await;
        let frames = client.recv_until("complete").await;
        assert_eq!(
            frames[0],
            json!({"action": "error", "payload": {"detail": format!("Failed to process message for {action}")},
                   "version": 1, "ref": action})
        );
        assert_eq!(frames.len(), 2, "error then complete: {frames:?}");
    }
    client.send_json(json!({"action": "echo", "payload": {"text": "ab", "count": 2}})).await;
    assert_eq!(client.recv_until("complete").await[0], json!({"action": "echoed", "payload": "abab"}));
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let app = app::router().layer(Extension(Settings::default().max_message_size(1024)));
    let addr = serve(app).await;
    let mut bystander = Client::connect(addr, "/ws/system").await;
    bystander.recv().await;
    let mut client = Client::connect(addr, "/ws/system").await;
    client.recv().await;
    let big = format!(r#"{{"action":"user_message","payload":{{"message":"{}"}}}}"#, "x".repeat(4096));
    client.send_text(&big).await;
    let (code, reason) = client.recv_close().await;
    assert_eq!(code, 1009);
    assert!(reason.contains("1024"), "the reason states the limit: {reason}");
    bystander.send_json(json!({"action": "user_message", "payload": {"message": "still here"}})).await;
    assert_eq!(bystander.recv().await, echo_of("still here"));
}

#[tokio::test]
async fn disconnect_hook_runs_on_every_kind_of_close() {
    let (probe, mut reports) = probe::router();
    let addr = serve(probe).await;

    let client = Client::connect(addr, "/ws/probe").await;
    client.abort();
    assert_eq!(reports.recv().await, Some(Disconnect::Lost));

    let mut client = Client::connect(addr, "/ws/probe").await;
    client.close(4000).await;
    assert_eq!(reports.recv().await, Some(Disconnect::ClientClosed { code: Some(4000) }));

    let mut client = Client::connect(addr, "/ws/probe").await;
    client.send_json(json!({"action": "close_me", "payload": 4321})).await;
    assert_eq!(client.recv_close().await, (4321, "closing on request".to_owned()));
    assert_eq!(reports.recv().await, Some(Disconnect::ServerClosed { code: 4321 }));

    // The server still serves others.
    let mut client = Client::connect(addr, "/ws/probe").await;
    assert_alive(&mut client).await;
}

#[tokio::test]
async fn refused_authentication_sends_status_then_closes() {
    let (probe, mut reports) = probe::router();
    let addr = serve(probe).await;
    let mut client = Client::connect(addr, "/ws/probe?token=bad").await;
    assert_eq!(
        client.recv().await,
        json!({"action": "authentication",
               "payload": {"status_code": 403, "status_text": "Forbidden", "data": {"detail": "bad token"}}})
    );
    assert_eq!(client.recv_close().await.0, 4403);
    assert_eq!(reports.recv().await, Some(Disconnect::ServerClosed { code: 4403 }));

    let mut client = Client::connect(addr, "/ws/probe?token=weird").await;
    assert_eq!(client.recv().await["payload"]["status_code"], 302);
    assert_eq!(client.recv_close().await.0, 4401);
}

#[tokio::test]
async fn path_and_query_parameters_reach_the_consumer() {
    let (probe, _reports) = probe::router();
    let addr = serve(Router::new().nest("/app", probe)).await;
    let mut client = Client::connect(addr, "/app/ws/probe/lobby?who=ann%20b").await;
    client.send_json(json!({"action": "whereami"})).await;
    assert_eq!(client.recv().await, json!({"action": "here", "payload": ["lobby", "ann b"]}));
}

#[tokio::test]
async fn a_sender_handle_pushes_after_the_handler_returned() {
    let (probe, _reports) = probe::router();
    let addr = serve(probe).await;
    let mut client = Client::connect(addr, "/ws/probe").await;
    client.send_json(json!({"action": "push", "payload": 3, "ref": "p"})).await;
    for i in 0..3 {
        // Pushed frames never carry the request's ref.
        assert_eq!(client.recv().await, json!({"action": "echoed", "payload": i.to_string()}));
    }
}

#[tokio::test]
async fn unknown_path_is_404() {
    let addr = serve(app::router()).await;
    let error = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/nowhere")).await.err();
    let status = match error {
        Some(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    };
    assert_eq!(status, 404);
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let shutdown = Shutdown::new();
    let app = app::router().layer(Extension(Settings::default().shutdown(shutdown.clone())));
    let mut client = system_client(app).await;
    shutdown.trigger();
    assert_eq!(client.recv_close().await, (1001, "Server shutting down".to_owned()));
    shutdown.connections_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_connections_get_their_own_replies_in_order() {
    let addr = serve(app::router()).await;
    let clients = (0..200).map(|c| {
        tokio::spawn(async move {
            let mut client = Client::connect(addr, "/ws/system").await;
            client.recv().await;
            for i in 0..20 {
                client
                    .send_json(json!({"action": "user_message", "payload": {"message": format!("{c}-{i}")}}))
                    .await;
            }
            for i in 0..20 {
                assert_eq!(client.recv().await, echo_of(&format!("{c}-{i}")));
            }
        })
    });
    for client in clients.collect::<Vec<_>>() {
        client.await.expect("client task");
    }
}

#[tokio::test]
async fn inputs_where_serde_and_pydantic_differ_follow_pydantic() {
    let mut client = system_client(app::router()).await;
    // serde would read a struct from an array; the wire wants an object.
    expect_errors(
        &mut client,
        r#"{"action":"user_message","payload":["hello"]}"#,
        &[("model_type", json!(["user_message", "payload"]))],
    )
    .await;
    // Repeated keys: the last value wins, at the top level and in the payload.
    client
        .send_text(r#"{"action":"ping","action":"user_message","payload":{"message":"a","message":"b"}}"#)
        .await;
    assert_eq!(client.recv().await, echo_of("b"));
    // A null action is an invalid tag, and the expected tags are listed.
    let reply = expect_errors(&mut client, r#"{"action":null}"#, &[("union_tag_invalid", json!([]))]).await;
    assert!(reply["payload"][0]["msg"].as_str().is_some_and(|m| m.contains("'ping', 'user_message'")));
    expect_errors(&mut client, r#"{"action":5}"#, &[("union_tag_invalid", json!([]))]).await;
    // `version` is lax like pydantic's int, but not about fractions.
    client.send_text(r#"{"action":"ping","version":"1"}"#).await;
    assert_eq!(client.recv().await["action"], "pong");
    expect_errors(
        &mut client,
        r#"{"action":"ping","version":1.5}"#,
        &[("int_from_float", json!(["version"]))],
    )
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_cannot_block_shutdown() {
    let shutdown = Shutdown::new();
    let settings =
        Settings::default().shutdown(shutdown.clone()).close_timeout(std::time::Duration::from_millis(200));
    let addr = serve(app::router().layer(Extension(settings))).await;
    let mut client = Client::connect(addr, "/ws/system").await;
    let big = json!({"action": "user_message", "payload": {"message": "x".repeat(256 * 1024)}}).to_string();
    // Echoes until the socket buffers and the outbound buffer are full and the server
    // stops reading: the handler ends up waiting on a queue nobody drains.
    for _ in 0..200 {
        let sent = tokio::time::timeout(std::time::Duration::from_secs(1), client.send_text(&big)).await;
        if sent.is_err() {
            break;
        }
    }
    shutdown.trigger();
    tokio::time::timeout(common::WAIT, shutdown.connections_closed())
        .await
        .expect("every connection ends although one client never reads");
}

#[tokio::test]
async fn messages_larger_than_the_socket_buffers_arrive_whole() {
    let mut client = system_client(app::router()).await;
    // The socket buffers are 4 KiB by default; this is far larger but under 1 MiB.
    let text = "é".repeat(100_000);
    client.send_json(json!({"action": "user_message", "payload": {"message": text}})).await;
    assert_eq!(client.recv().await, echo_of(&text));
}
