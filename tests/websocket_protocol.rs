//! The WebSocket protocol itself (RFC 6455) over real sockets, frame by frame as a
//! client writes them: fragmented messages, the size limit across fragments, UTF-8,
//! masking, control frames, the close handshake, and a large reply in fragments.

mod common;

use std::net::SocketAddr;

use axum::Extension;
use chanx::Settings;
use common::{WAIT, raw, serve, system_echo};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const FIN: u8 = 0x80;
const LIMIT: usize = 1024;

/// The System Echo app with a 1 KiB message limit, and a connection to it whose welcome
/// frame is read.
async fn connect() -> TcpStream {
    let settings = Settings::default().max_message_size(LIMIT).no_inbound_rate();
    let addr: SocketAddr = serve(system_echo::router().layer(Extension(settings))).await;
    let mut stream = raw::connect(addr, "/ws/system").await;
    let (first, _) = next(&mut stream).await;
    assert_eq!(first, FIN | TEXT, "the welcome frame");
    stream
}

async fn next(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    tokio::time::timeout(WAIT, raw::read_frame(stream)).await.expect("a frame in time").expect("a frame")
}

async fn send(stream: &mut TcpStream, frames: &[Vec<u8>]) {
    stream.write_all(&frames.concat()).await.expect("send");
}

fn echo_request(message: &str) -> String {
    json!({"action": "user_message", "payload": {"message": message}}).to_string()
}

async fn echoed(stream: &mut TcpStream) -> String {
    let (first, payload) = next(stream).await;
    assert_eq!(first, FIN | TEXT);
    let reply: Value = serde_json::from_slice(&payload).expect("JSON");
    reply["payload"]["message"].as_str().expect("an echo").to_owned()
}

/// The close frame the server sends next (skipping other frames): code and reason.
async fn closed(stream: &mut TcpStream) -> (Option<u16>, String) {
    loop {
        let (first, payload) = next(stream).await;
        if first & 0x0f == CLOSE {
            let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            return (code, String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned());
        }
    }
}

#[tokio::test]
async fn a_fragmented_text_is_put_together_with_pings_between_its_fragments() {
    let mut stream = connect().await;
    let request = echo_request("in three parts, é included");
    // Split inside the two bytes of "é": UTF-8 is checked on the whole message.
    let at = request.find('é').expect("é") + 1;
    let (head, tail) = request.as_bytes().split_at(at);
    let (middle, tail) = tail.split_at(5);
    let frames = [
        raw::frame_with(TEXT, head, true),
        raw::frame_with(FIN | PING, b"between", true),
        raw::frame_with(CONTINUATION, middle, true),
        raw::frame_with(FIN | CONTINUATION, tail, true),
    ];
    send(&mut stream, &frames).await;
    assert_eq!(next(&mut stream).await, (FIN | PONG, b"between".to_vec()), "the ping is answered at once");
    assert_eq!(echoed(&mut stream).await, "🔧 System Echo: in three parts, é included");
}

#[tokio::test]
async fn a_message_of_exactly_the_limit_passes_and_fragments_over_it_close_with_1009() {
    let mut stream = connect().await;
    let filler = LIMIT - echo_request("").len();
    send(&mut stream, &[raw::frame(TEXT, echo_request(&"x".repeat(filler)).as_bytes())]).await;
    assert_eq!(echoed(&mut stream).await.len(), "🔧 System Echo: ".len() + filler);

    // Each fragment is small; together they pass the limit.
    let fragment = [b' '; 400];
    let frames = [
        raw::frame_with(TEXT, &fragment, true),
        raw::frame_with(CONTINUATION, &fragment, true),
        raw::frame_with(CONTINUATION, &fragment, true),
    ];
    send(&mut stream, &frames).await;
    assert_eq!(closed(&mut stream).await.0, Some(1009));
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_whole_or_fragmented() {
    let mut stream = connect().await;
    send(&mut stream, &[raw::frame(TEXT, b"{\"action\": \"\xff\"}")]).await;
    assert_eq!(closed(&mut stream).await.0, Some(1007));

    let mut stream = connect().await;
    let frames =
        [raw::frame_with(TEXT, b"{\"a\": \"\xc3", true), raw::frame_with(FIN | CONTINUATION, b"(\"}", true)];
    send(&mut stream, &frames).await;
    assert_eq!(closed(&mut stream).await.0, Some(1007));
}

#[tokio::test]
async fn frames_that_break_the_protocol_close_with_1002() {
    let cases: [(&str, Vec<u8>); 6] = [
        ("an unmasked frame", raw::frame_with(FIN | TEXT, echo_request("x").as_bytes(), false)),
        ("a continuation outside a message", raw::frame_with(FIN | CONTINUATION, b"x", true)),
        ("a reserved bit", raw::frame_with(FIN | 0x40 | TEXT, b"{}", true)),
        ("a fragmented ping", raw::frame_with(PING, b"x", true)),
        ("an unknown opcode", raw::frame_with(FIN | 0x3, b"x", true)),
        (
            "a new message inside a fragmented one",
            [raw::frame_with(TEXT, b"{", true), raw::frame(TEXT, b"{}")].concat(),
        ),
    ];
    for (case, bytes) in cases {
        let mut stream = connect().await;
        send(&mut stream, &[bytes]).await;
        assert_eq!(closed(&mut stream).await.0, Some(1002), "{case}");
    }
}

#[tokio::test]
async fn a_binary_message_gets_an_error_frame_and_the_connection_stays() {
    let mut stream = connect().await;
    let frames = [raw::frame_with(BINARY, &[1, 2], true), raw::frame_with(FIN | CONTINUATION, &[3], true)];
    send(&mut stream, &frames).await;
    let (_, payload) = next(&mut stream).await;
    let error: Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(error["action"], "error");
    send(&mut stream, &[raw::frame(TEXT, echo_request("still open").as_bytes())]).await;
    assert_eq!(echoed(&mut stream).await, "🔧 System Echo: still open");
}

#[tokio::test]
async fn a_clients_close_is_answered_with_its_code_and_reason() {
    let mut stream = connect().await;
    let mut close = 4000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"done here");
    send(&mut stream, &[raw::frame(CLOSE, &close)]).await;
    assert_eq!(closed(&mut stream).await, (Some(4000), "done here".into()));
    assert_eq!(
        tokio::time::timeout(WAIT, raw::read_frame(&mut stream)).await.expect("the end in time"),
        None
    );

    // A close without a code gets one without a code.
    let mut stream = connect().await;
    send(&mut stream, &[raw::frame(CLOSE, &[])]).await;
    assert_eq!(closed(&mut stream).await, (None, String::new()));

    // A code no endpoint may send (1005 stands for "none"): 1002.
    let mut stream = connect().await;
    send(&mut stream, &[raw::frame(CLOSE, &1005u16.to_be_bytes())]).await;
    assert_eq!(closed(&mut stream).await.0, Some(1002));
}

#[tokio::test]
async fn a_reply_over_64_kib_goes_out_in_fragments() {
    let settings = Settings::default().no_inbound_rate();
    let addr = serve(system_echo::router().layer(Extension(settings))).await;
    let mut stream = raw::connect(addr, "/ws/system").await;
    next(&mut stream).await;
    let message = "y".repeat(150 * 1024);
    send(&mut stream, &[raw::frame(TEXT, echo_request(&message).as_bytes())]).await;
    let mut frames = Vec::new();
    let mut text = Vec::new();
    loop {
        let (first, payload) = next(&mut stream).await;
        frames.push(first);
        text.extend_from_slice(&payload);
        if first & FIN != 0 {
            break;
        }
    }
    assert_eq!(frames, [TEXT, CONTINUATION, FIN | CONTINUATION], "64 KiB fragments");
    let reply: Value = serde_json::from_slice(&text).expect("JSON");
    assert_eq!(
        reply["payload"]["message"].as_str().map(str::len),
        Some("🔧 System Echo: ".len() + message.len())
    );
}
