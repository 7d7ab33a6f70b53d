//! Test fixtures shared by the integration tests: the tutorial apps, a probe consumer
//! that exercises every runtime path, a real WebSocket client and a plain HTTP client.
#![allow(dead_code)]

// The tutorial apps, wired as in the `showcase` example (each part's app refers to
// the previous parts as its siblings), the external sender's announcements, the
// examples' channel layers, and the `authenticated` and `topics` examples.
#[path = "../../examples/external_sender/announcements.rs"]
pub mod announcements;
#[path = "../../examples/authenticated/app.rs"]
pub mod authenticated;
#[path = "../../examples/background_jobs/app.rs"]
pub mod background_jobs;
pub mod crowd;
#[path = "../../examples/showcase/events.rs"]
pub mod events;
#[path = "../../examples/background_jobs/jobs.rs"]
pub mod jobs;
#[path = "../../examples/common/layers.rs"]
pub mod layers;
pub mod log;
pub mod probe;
pub mod python;
#[path = "../../examples/background_jobs/queue.rs"]
pub mod queue;
pub mod raw;
pub mod redis;
#[path = "../../examples/room_chat/app.rs"]
pub mod room_chat;
#[path = "../../examples/topics/rooms.rs"]
pub mod rooms;
#[path = "../../examples/showcase/app.rs"]
pub mod showcase;
#[path = "../../examples/system_echo/app.rs"]
pub mod system_echo;
#[path = "../../examples/topics/app.rs"]
pub mod topics;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for one frame before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// Serves `app` with `chanx::serve` (default settings of its own, unless the app's
/// routes carry theirs) on an ephemeral loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { chanx::serve(listener, app).await.expect("server runs") });
    addr
}

/// A real WebSocket client (tokio-tungstenite).
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        Client::connect_with(addr, path, &[]).await.unwrap_or_else(|(status, body)| {
            panic!("websocket handshake refused with HTTP {status}: {}", String::from_utf8_lossy(&body))
        })
    }

    /// Opens a WebSocket with extra request headers (`("cookie", "a=b")`); `Err` holds the
    /// status and body of an HTTP refusal.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, (u16, Vec<u8>)> {
        let mut request = format!("ws://{addr}{path}").into_client_request().expect("a request");
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
            request.headers_mut().insert(name, value.parse().expect("a header value"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Client { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err((response.status().as_u16(), response.body().clone().unwrap_or_default()))
            }
            Err(other) => panic!("websocket handshake failed without a status: {other}"),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Ws::text(text)).await.expect("send a text frame");
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.socket.send(Ws::binary(data.to_vec())).await.expect("send a binary frame");
    }

    /// The next frame of any kind (pings and pongs skipped), or `None` at the end.
    async fn next(&mut self) -> Option<Ws> {
        loop {
            let frame =
                tokio::time::timeout(WAIT, self.socket.next()).await.expect("a frame within the wait");
            match frame {
                Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => continue,
                Some(Ok(frame)) => return Some(frame),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next text frame as JSON; fails on anything else.
    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Some(Ws::Text(text)) => serde_json::from_str(&text).expect("server frames are JSON"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Receives frames up to the first with `action`, inclusive.
    pub async fn recv_until(&mut self, action: &str) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.recv().await;
            let done = frame["action"] == action;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// The server's close frame (code, reason), skipping nothing else; answers it,
    /// completing the closing handshake.
    pub async fn recv_close(&mut self) -> (u16, String) {
        let close = match self.next().await {
            Some(Ws::Close(Some(CloseFrame { code, reason }))) => (code.into(), reason.to_string()),
            other => panic!("expected a close frame, got {other:?}"),
        };
        // Polling once more sends the reply tungstenite queued, then ends the stream.
        assert!(self.next().await.is_none(), "nothing after the close frame");
        close
    }

    pub async fn close(&mut self, code: u16) {
        let frame = CloseFrame { code: code.into(), reason: "bye".into() };
        self.socket.close(Some(frame)).await.expect("close handshake");
    }

    /// Drops the TCP connection without a close frame.
    pub fn abort(self) {
        drop(self.socket);
    }
}

/// The connection answers a ping: it survived whatever came before.
pub async fn assert_alive(client: &mut Client) {
    client.send_text(r#"{"action":"ping"}"#).await;
    assert_eq!(client.recv().await, serde_json::json!({"action": "pong", "payload": null}));
}

/// An HTTP response: status, header lines and body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first value of header `name` (any case), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v)
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("a JSON body ({e}): {:?}", self.body))
    }
}

/// A plain HTTP/1.1 request (`Connection: close`) with extra header lines and a body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("a response within the wait")
        .expect("read the response");
    let response = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("headers and body");
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    HttpResponse { status, headers, body: body.to_owned() }
}
