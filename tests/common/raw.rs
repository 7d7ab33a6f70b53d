//! A raw WebSocket client over plain TCP, for attacks a polite client cannot make: it
//! writes frames without ever reading, sends malformed handshakes, or goes silent.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A handshake request for `path`, with extra header lines (`"Name: value"`).
pub fn request(addr: SocketAddr, path: &str, key: &str, extra: &[&str]) -> String {
    let mut text = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text
}

/// Sends a request and reads the response head; returns its status and the stream.
pub async fn handshake(addr: SocketAddr, request: &str) -> (u16, String, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(super::WAIT, stream.read(&mut byte)).await.expect("a response");
        match read {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, stream)
}

/// Opens a WebSocket at `path` by hand.
pub async fn connect(addr: SocketAddr, path: &str) -> TcpStream {
    let (status, head, stream) = handshake(addr, &request(addr, path, "dGhlIHNhbXBsZSBub25jZQ==", &[])).await;
    assert_eq!(status, 101, "{head}");
    stream
}

/// A masked client frame (mask 0: the payload goes as it is).
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(0x80 | opcode, payload, true)
}

/// A client frame with its first byte as given (FIN, reserved bits, opcode), masked
/// with mask 0 or not masked at all.
pub fn frame_with(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out.extend_from_slice(payload);
    out
}

/// Reads one server frame: its first byte (FIN and opcode) and its payload; `None` when
/// the stream ends.
pub async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.ok()?;
    let len = match header[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).await.ok()?;
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).await.ok()?;
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).await.ok()?;
    Some((header[0], payload))
}

/// Reads server frames until a close frame; returns its code (`None` if the connection
/// ended without one) and how many frames of each opcode came before it.
pub async fn read_until_close(stream: &mut TcpStream, limit: Duration) -> (Option<u16>, Vec<(u8, usize)>) {
    let mut seen: Vec<(u8, usize)> = Vec::new();
    let read = async {
        loop {
            let (first, payload) = read_frame(stream).await?;
            let opcode = first & 0x0f;
            if opcode == 0x8 {
                return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
            match seen.iter_mut().find(|(op, _)| *op == opcode) {
                Some((_, count)) => *count += 1,
                None => seen.push((opcode, 1)),
            }
        }
    };
    let code = tokio::time::timeout(limit, read).await.unwrap_or(None);
    (code, seen)
}

/// The resident memory of this process, in bytes.
pub fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}
