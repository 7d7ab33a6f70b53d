//! A quick run of every load-generator scenario against the three servers (the split
//! fan-out against two chanx servers sharing an in-memory layer): the correctness checks
//! must pass (no timing is asserted), and a wrong reply or a lost copy must be caught.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use chanx::layer::{InMemoryLayer, Layers};
use chanx_bench::load::Audience;
use chanx_bench::{lean, load, servers};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("ws://{addr}")
}

async fn serve_lean() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(lean::serve(listener));
    format!("ws://{addr}")
}

const LIMIT: Duration = Duration::from_secs(30);

/// The servers run in this process, so its own CPU time is what the scenarios read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_against_the_three_servers() {
    let me = Some(std::process::id());
    for base in [serve(servers::chanx().layered()).await, serve(servers::raw()).await, serve_lean().await] {
        let echo = load::echo(&base, 3, 20, 4, LIMIT, me).await;
        assert_eq!((echo.error_count, echo.messages), (0, 60), "{base}: {:?}", echo.errors);
        assert!(echo.server_cpu.is_some_and(|cpu| cpu >= 0.0), "{base}: {:?}", echo.server_cpu);
        let (idle, measured) = load::idle(&base, 5, async || 42).await;
        assert_eq!((idle.error_count, measured), (0, 42), "{base}: {:?}", idle.errors);
        let fanout = load::fanout(&base, Audience::Group, 5, 3, LIMIT, me).await;
        assert_eq!(
            (fanout.error_count, fanout.messages, fanout.fanout.len()),
            (0, 15, 3),
            "{base}: {:?}",
            fanout.errors
        );
        assert!(fanout.server_cpu.is_some(), "{base}");
        let connect = load::connect_close(&base, 20, 4, LIMIT, me).await;
        assert_eq!((connect.error_count, connect.messages), (0, 20), "{base}: {:?}", connect.errors);
        assert!(connect.to_json()["server_cpu_us_per_message"].is_number(), "{base}");
    }
}

/// The topic scenarios (chanx only): a push reaches every subscriber once, and every
/// subscription is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topic_scenarios_run_clean_against_chanx() {
    let base = serve(servers::chanx().layered()).await;
    let fanout = load::fanout(&base, Audience::Topic, 5, 3, LIMIT, None).await;
    assert_eq!((fanout.error_count, fanout.messages), (0, 15), "{:?}", fanout.errors);
    let (report, (connected, subscribed)) = load::subscriptions(&base, 2, 50, LIMIT, async || 7).await;
    assert_eq!(
        (report.error_count, report.messages, connected, subscribed),
        (0, 100, 7, 7),
        "{:?}",
        report.errors
    );
}

/// A request the lean server does not serve is refused with a status, not a crash.
#[tokio::test]
async fn the_lean_server_refuses_other_paths_and_plain_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let base = serve_lean().await;
    let addr = base.trim_start_matches("ws://").to_owned();
    for (request, status) in [
        ("GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404"),
        ("GET /ws/system HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "426"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        assert!(response.starts_with(&format!("HTTP/1.1 {status}")), "{response}");
    }
    assert_eq!(load::echo(&base, 1, 3, 1, LIMIT, None).await.error_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_fanout_spans_servers_sharing_a_layer() {
    let layers = Layers::new(InMemoryLayer::new());
    let bases = [
        serve(servers::chanx_on(layers.clone()).layered()).await,
        serve(servers::chanx_on(layers).layered()).await,
    ];
    let report = load::split_fanout(&bases, 6, 4, 2, LIMIT).await;
    assert_eq!((report.error_count, report.messages), (0, 24), "{:?}", report.errors);
    assert_eq!(report.delivery.map(|h| h.len()), Some(24));
}

/// Servers that share no layer: the members of the second never get a broadcast.
#[tokio::test]
async fn a_lost_delivery_is_an_error() {
    let bases = [serve(servers::chanx().layered()).await, serve(servers::chanx().layered()).await];
    let report = load::split_fanout(&bases, 4, 1, 1, Duration::from_secs(1)).await;
    assert_eq!((report.error_count, report.messages), (1, 2), "{:?}", report.errors);
    assert!(report.errors[0].contains("2 of 4 copies missing"), "{:?}", report.errors);
}

#[tokio::test]
async fn a_wrong_reply_is_an_error() {
    let liar = Router::new().route(
        "/ws/system",
        get(|ws: WebSocketUpgrade| async {
            ws.on_upgrade(|mut socket| async move {
                let welcome =
                    r#"{"action":"system_echo","payload":{"message":"🔧 System: Connection established!"}}"#;
                let _ = socket.send(Message::text(welcome)).await;
                while let Some(Ok(_)) = socket.recv().await {
                    let _ = socket
                        .send(Message::text(r#"{"action":"system_echo","payload":{"message":"no"}}"#))
                        .await;
                }
            })
        }),
    );
    let base = serve(liar).await;
    let report = load::echo(&base, 1, 5, 1, LIMIT, None).await;
    assert_eq!(report.error_count, 1);
    assert!(report.errors[0].contains("expected"), "{:?}", report.errors);
}
