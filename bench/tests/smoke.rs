//! A quick run of every load-generator scenario against both servers (the split fan-out
//! against two chanx servers sharing an in-memory layer): the correctness checks must
//! pass (no timing is asserted), and a wrong reply or a lost copy must be caught.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use chanx::layer::{InMemoryLayer, Layers};
use chanx_bench::{load, servers};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("ws://{addr}")
}

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_against_both_servers() {
    for router in [servers::chanx(), servers::raw()] {
        let base = serve(router).await;
        let echo = load::echo(&base, 3, 20, 4, LIMIT).await;
        assert_eq!((echo.error_count, echo.messages), (0, 60), "{:?}", echo.errors);
        let (idle, measured) = load::idle(&base, 5, async || 42).await;
        assert_eq!((idle.error_count, measured), (0, 42), "{:?}", idle.errors);
        let fanout = load::fanout(&base, 5, 3, LIMIT).await;
        assert_eq!(
            (fanout.error_count, fanout.messages, fanout.fanout.len()),
            (0, 15, 3),
            "{:?}",
            fanout.errors
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_fanout_spans_servers_sharing_a_layer() {
    let layers = Layers::new(InMemoryLayer::new());
    let bases = [serve(servers::chanx_on(layers.clone())).await, serve(servers::chanx_on(layers)).await];
    let report = load::split_fanout(&bases, 6, 4, 2, LIMIT).await;
    assert_eq!((report.error_count, report.messages), (0, 24), "{:?}", report.errors);
    assert_eq!(report.delivery.map(|h| h.len()), Some(24));
}

/// Servers that share no layer: the members of the second never get a broadcast.
#[tokio::test]
async fn a_lost_delivery_is_an_error() {
    let bases = [serve(servers::chanx()).await, serve(servers::chanx()).await];
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
    let report = load::echo(&base, 1, 5, 1, LIMIT).await;
    assert_eq!(report.error_count, 1);
    assert!(report.errors[0].contains("expected"), "{:?}", report.errors);
}
