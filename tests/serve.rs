//! `chanx::serve` over real sockets: slow clients are dropped, oversized request heads
//! refused, and shutdown completes, closing WebSockets with 1001, whatever the clients do.
//!
//! Each test but the panicking handler's fails on a plain
//! `axum::serve(listener, app).with_graceful_shutdown(signal)` (checked by swapping it
//! into `Server::start`): it has no header-read timeout (the slow client stays
//! connected, and shutdown waits for the half-sent request for ever), no limit below
//! hyper's ~400 KB read buffer, does not close chanx WebSockets on shutdown, and has no
//! bound on the shutdown. The panicking handler's test holds for both: it guards that
//! `chanx::serve`'s own catching of panics keeps the server serving.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use chanx::Settings;
use chanx::serve::Serve;
use common::{Client, WAIT, system_echo};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as Ws;

/// A `chanx::serve` server on an ephemeral loopback port, stopped by [`Server::stop`].
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(app: Router, configure: impl FnOnce(Serve) -> Serve) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = chanx::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let server = configure(server);
        Server { addr, stop, task: tokio::spawn(async move { server.await }) }
    }

    /// Fires the shutdown signal; `serve` must then return `Ok` within the wait.
    async fn stop(self) {
        let _ = self.stop.send(());
        let ended = timeout(WAIT, self.task).await.expect("serve returns within the wait after the signal");
        ended.expect("serve does not panic").expect("serve ends with Ok");
    }
}

/// Reads until the server closes the connection (EOF or reset), within the wait; what
/// came before.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    // An error (a reset) closes the connection as well as EOF does; the bytes read
    // before it stay in `received`.
    let _ = timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection within the wait");
    received
}

/// The raw response to `GET path` with the extra header lines `headers`.
async fn http_get(addr: SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned()
}

/// The System Echo app, and `/peer` answering with the client's address.
fn app() -> Router {
    system_echo::router().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("peer {}", peer.ip()) }),
    )
}

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_is_disconnected_after_the_header_read_timeout() {
    // On axum::serve the slow client is never disconnected: the read below times out.
    let server = Server::start(app(), |s| s.header_read_timeout(Duration::from_millis(300))).await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"G").await.expect("send one byte");

    // Meanwhile the server serves others: HTTP (with the client's address) and WebSocket.
    let response = http_get(server.addr, "/peer", "").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("peer 127.0.0.1"), "{response}");
    let mut client = Client::connect(server.addr, "/ws/system").await;
    assert_eq!(client.recv().await["action"], "system_echo");

    assert_eq!(read_until_closed(&mut slow).await, b"", "no response to a request never sent");
    // The WebSocket outlived the header-read timeout: it applies to request heads only.
    common::assert_alive(&mut client).await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_completes_while_a_client_holds_a_half_sent_request() {
    // On axum::serve the signal below never completes the server: it waits for the
    // request to finish, and nothing times it out.
    let server = Server::start(app(), |s| {
        s.header_read_timeout(Duration::from_secs(3600)).shutdown_timeout(Duration::from_millis(300))
    })
    .await;
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET /peer HTTP/1.1\r\nHost: te").await.expect("send half a request");
    // Connections are accepted in order, and served in order on this single-threaded
    // runtime: once this response is in, the server has read the half request (a
    // connection that sent nothing yet, hyper would close at once on shutdown).
    assert!(http_get(server.addr, "/peer", "").await.starts_with("HTTP/1.1 200"));

    let addr = server.addr;
    server.stop().await;
    assert_eq!(read_until_closed(&mut half).await, b"", "the half request was dropped unanswered");
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn an_open_websocket_gets_1001_on_shutdown_and_serve_returns() {
    // On axum::serve, with nothing tying the signal to the chanx settings, the socket
    // stays open: no close frame comes.
    let server = Server::start(app(), |s| s.settings(Settings::default())).await;
    let mut client = Client::connect(server.addr, "/ws/system").await;
    assert_eq!(client.recv().await["action"], "system_echo");

    let stopped = tokio::spawn(server.stop());
    assert_eq!(client.recv_close().await.0, 1001);
    stopped.await.expect("serve returns");
}

#[tokio::test]
async fn a_request_head_over_max_header_bytes_is_refused() {
    // On axum::serve hyper's read buffer holds ~400 KB: the 16 KiB head gets a 200.
    let server = Server::start(app(), |s| s.max_header_bytes(8 * 1024)).await;
    let fits = format!("X-Fill: {}\r\n", "a".repeat(4 * 1024));
    let response = http_get(server.addr, "/peer", &fits).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let too_big = format!("X-Fill: {}\r\n", "a".repeat(16 * 1024));
    let response = http_get(server.addr, "/peer", &too_big).await;
    // hyper answers 431 and closes; the client may see only the close, as a reset of
    // the request bytes the server did not read can discard the answer.
    assert!(response.is_empty() || response.starts_with("HTTP/1.1 431"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_that_never_answers_the_close_is_dropped_after_the_shutdown_timeout() {
    // The server would wait an hour for the client's close reply; the shutdown timeout
    // does not. On axum::serve (which cannot trigger the chanx shutdown) no close comes.
    let settings = Settings::default().close_timeout(Duration::from_secs(3600));
    let server =
        Server::start(app(), |s| s.settings(settings).shutdown_timeout(Duration::from_millis(300))).await;
    let url = format!("ws://{}/ws/system", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket handshake");
    let welcome = timeout(WAIT, socket.next()).await.expect("the welcome within the wait");
    assert!(matches!(welcome, Some(Ok(Ws::Text(_)))), "{welcome:?}");

    let stopped = tokio::spawn(server.stop());
    // Reading the close frame queues tungstenite's reply; not polling again never sends it.
    let close = timeout(WAIT, socket.next()).await.expect("the close within the wait");
    assert!(matches!(&close, Some(Ok(Ws::Close(Some(frame)))) if u16::from(frame.code) == 1001), "{close:?}");
    stopped.await.expect("serve returns");
    drop(socket);
}

/// A route that panics costs its own connection, nothing else: the server goes on
/// serving, and shuts down as it should.
#[tokio::test]
async fn a_panicking_http_handler_drops_its_connection_only() {
    async fn fails() -> &'static str {
        panic!("this handler fails")
    }
    let app = app().route("/panic", get(fails));
    let server = Server::start(app, |s| s).await;
    let response = http_get(server.addr, "/panic", "").await;
    assert!(response.is_empty(), "{response}");
    let response = http_get(server.addr, "/peer", "").await;
    assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("peer 127.0.0.1"), "{response}");
    server.stop().await;
}

/// A server whose future is dropped (its task aborted) drops its HTTP connections, a
/// keep-alive one between requests included, rather than leaving them to their clients.
#[tokio::test]
async fn an_aborted_server_closes_its_http_connections() {
    let server = Server::start(app(), |s| s).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\n\r\n").await.expect("send a request");
    let mut response = [0; 12];
    timeout(WAIT, stream.read_exact(&mut response)).await.expect("a response").expect("read");
    assert_eq!(&response, b"HTTP/1.1 200");
    server.task.abort();
    read_until_closed(&mut stream).await;
}

/// Two servers in one process never share settings (and so a channel layer) by
/// accident: a chanx route served by plain `axum::serve` without a `Settings` extension
/// is refused with a reason, and `chanx::serve` gives its routes settings of its own.
#[tokio::test]
async fn a_chanx_route_without_settings_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app()).await });
    let handshake = concat!(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    let response = http_get(addr, "/ws/system", handshake).await;
    assert!(response.starts_with("HTTP/1.1 500"), "{response}");
    assert!(response.ends_with("WebSocket route without chanx settings"), "{response}");

    let server = Server::start(app(), |s| s).await;
    let mut client = Client::connect(server.addr, "/ws/system").await;
    assert_eq!(client.recv().await["action"], "system_echo");
    server.stop().await;
}
