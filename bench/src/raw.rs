//! A raw WebSocket client for the attack tool: the HTTP upgrade by hand, masked frames
//! built ahead of time, a writer that never reads, and a reader that tells afterwards
//! how the server ended the connection (close frame and code, EOF or reset). Loopback
//! only (127.0.0.0/8): [`Target::parse`] refuses anything else.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::probe::Abort;

/// The longest a TCP connect plus upgrade may take.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// A server on the loopback interface.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// `ws://IP:PORT`, without a path.
    pub base: String,
}

impl Target {
    /// Parses `ws://HOST:PORT[/...]`; HOST must be `localhost` or an IPv4 address in
    /// 127.0.0.0/8. The path, if any, is ignored (each attack picks its own).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest =
            url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs are supported"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) =
            authority.rsplit_once(':').ok_or_else(|| format!("{url}: the URL needs an explicit port"))?;
        let port: u16 = port.parse().map_err(|e| format!("{url}: port {port}: {e}"))?;
        let ip = match host {
            "localhost" => Ipv4Addr::LOCALHOST,
            _ => host.parse::<Ipv4Addr>().map_err(|_| format!("{url}: host must be an IPv4 address"))?,
        };
        if !ip.is_loopback() {
            return Err(format!("{url}: refusing a non-loopback address (only 127.0.0.0/8)"));
        }
        let addr = SocketAddr::V4(SocketAddrV4::new(ip, port));
        Ok(Target { addr, base: format!("ws://{addr}") })
    }

    /// The HTTP upgrade request for `path`.
    pub fn upgrade_request(&self, path: &str) -> String {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.addr
        )
    }

    /// A TCP connection, with nothing sent yet.
    pub async fn connect_tcp(&self) -> Result<TcpStream, String> {
        match tokio::time::timeout(HANDSHAKE_LIMIT, TcpStream::connect(self.addr)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(error)) => Err(format!("connect: {error}")),
            Err(_) => Err(format!("connect: not within {HANDSHAKE_LIMIT:?}")),
        }
    }

    /// Connects and upgrades to a WebSocket at `path`, reading nothing beyond the 101
    /// response (bytes that arrived with it are kept in [`RawSocket::pending`]).
    pub async fn upgrade(&self, path: &str) -> Result<RawSocket, String> {
        let handshake = async {
            let mut stream = self.connect_tcp().await?;
            stream
                .write_all(self.upgrade_request(path).as_bytes())
                .await
                .map_err(|e| format!("upgrade: {e}"))?;
            let mut response = Vec::with_capacity(512);
            let mut chunk = [0; 1024];
            let end = loop {
                if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                    break end + 4;
                }
                if response.len() > 16 * 1024 {
                    return Err("upgrade: response head over 16 KiB".to_owned());
                }
                match stream.read(&mut chunk).await {
                    Ok(0) => return Err("upgrade: connection closed before the response".to_owned()),
                    Ok(n) => response.extend_from_slice(&chunk[..n]),
                    Err(error) => return Err(format!("upgrade: {error}")),
                }
            };
            let status = response.split(|b| *b == b'\r').next().unwrap_or_default();
            if !status.starts_with(b"HTTP/1.1 101") {
                return Err(format!("upgrade refused: {}", String::from_utf8_lossy(status)));
            }
            Ok(RawSocket { stream, pending: response.split_off(end) })
        };
        tokio::time::timeout(HANDSHAKE_LIMIT, handshake)
            .await
            .unwrap_or_else(|_| Err(format!("upgrade: not within {HANDSHAKE_LIMIT:?}")))
    }
}

/// An upgraded connection that has read only the handshake.
pub struct RawSocket {
    /// The connection.
    pub stream: TcpStream,
    /// Server bytes that arrived with the 101 response.
    pub pending: Vec<u8>,
}

/// Frame opcodes the attacks use.
pub mod opcode {
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
}

/// One final client frame, masked as RFC 6455 requires of clients.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    // Any key will do; a fixed one keeps frames reproducible.
    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(byte, mask)| byte ^ mask));
    out
}

/// A masked text frame carrying `{"action":"user_message","payload":{"message":...}}`.
pub fn user_message(message: &str) -> Vec<u8> {
    let json = json!({"action": "user_message", "payload": {"message": message}});
    frame(opcode::TEXT, json.to_string().as_bytes())
}

/// Why a [`flood`] stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum FloodEnd {
    /// Every chunk was written.
    Done,
    /// The time was up.
    Deadline,
    /// One chunk could not be written within the stall limit: the server stopped reading.
    Stalled,
    /// A write failed: the server closed or reset the connection.
    WriteFailed(String),
    /// The server's memory passed the cap.
    Aborted,
}

impl fmt::Display for FloodEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloodEnd::Done => f.write_str("done"),
            FloodEnd::Deadline => f.write_str("deadline"),
            FloodEnd::Stalled => f.write_str("stalled (server stopped reading)"),
            FloodEnd::WriteFailed(error) => write!(f, "write failed: {error}"),
            FloodEnd::Aborted => f.write_str("aborted (server RSS cap)"),
        }
    }
}

/// What a [`flood`] wrote.
#[derive(Debug, Clone)]
pub struct Flood {
    /// Bytes of the chunks written in full.
    pub bytes: u64,
    /// Chunks written in full.
    pub chunks: u64,
    /// Why it stopped.
    pub end: FloodEnd,
    /// When it stopped, from its start.
    pub after: Duration,
}

impl Flood {
    /// The flood as JSON fields.
    pub fn to_json(&self) -> Value {
        json!({"bytes_sent": self.bytes, "flood_end": self.end.to_string(), "flood_end_ms": millis(self.after)})
    }
}

/// Writes `chunk` again and again, never reading, up to `max_chunks` times, until
/// `deadline`, a write fails, one chunk takes longer than `stall`, or `abort` is raised.
pub async fn flood(
    stream: &mut TcpStream,
    chunk: &[u8],
    max_chunks: u64,
    deadline: Instant,
    stall: Duration,
    abort: &Abort,
) -> Flood {
    let started = Instant::now();
    let mut flood = Flood { bytes: 0, chunks: 0, end: FloodEnd::Done, after: Duration::ZERO };
    while flood.chunks < max_chunks {
        if abort.is_set() {
            flood.end = FloodEnd::Aborted;
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            flood.end = FloodEnd::Deadline;
            break;
        }
        let limit = (now + stall).min(deadline);
        tokio::select! {
            written = tokio::time::timeout_at(limit, stream.write_all(chunk)) => match written {
                Ok(Ok(())) => {
                    flood.bytes += chunk.len() as u64;
                    flood.chunks += 1;
                }
                Ok(Err(error)) => {
                    flood.end = FloodEnd::WriteFailed(error.kind().to_string());
                    break;
                }
                Err(_) if limit == deadline => {
                    flood.end = FloodEnd::Deadline;
                    break;
                }
                Err(_) => {
                    flood.end = FloodEnd::Stalled;
                    break;
                }
            },
            () = abort.clone().raised() => {
                flood.end = FloodEnd::Aborted;
                break;
            }
        }
    }
    flood.after = started.elapsed();
    flood
}

/// How the server ended a connection, as the client saw it when it finally read.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// A close frame, with its code if it had one.
    CloseFrame(Option<u16>),
    /// The TCP connection ended without a close frame.
    Eof,
    /// A read error, a reset most likely.
    Error(String),
    /// Still open when the observation stopped.
    Open,
}

impl Ending {
    /// A short label: `close 1008`, `close (no code)`, `eof`, `reset`, `open`, ...
    pub fn label(&self) -> String {
        match self {
            Ending::CloseFrame(Some(code)) => format!("close {code}"),
            Ending::CloseFrame(None) => "close (no code)".to_owned(),
            Ending::Eof => "eof".to_owned(),
            Ending::Error(kind) if kind.contains("reset") => "reset".to_owned(),
            Ending::Error(kind) => format!("error: {kind}"),
            Ending::Open => "open".to_owned(),
        }
    }
}

/// What the client read after its attack.
#[derive(Debug, Clone)]
pub struct Observed {
    /// How the connection ended.
    pub ending: Ending,
    /// Server frames read, by kind: (text, pong, other).
    pub frames: (u64, u64, u64),
    /// Bytes read.
    pub bytes: u64,
}

impl Observed {
    /// The observation as JSON fields.
    pub fn to_json(&self) -> Value {
        json!({
            "server_ending": self.ending.label(),
            "frames_read_after": {"text": self.frames.0, "pong": self.frames.1, "other": self.frames.2},
            "bytes_read_after": self.bytes,
        })
    }
}

/// Reads what the server sent (the bytes already received first), for at most `limit`
/// and `max_bytes`, to find how it ended the connection: a close frame, EOF or reset.
pub async fn observe(socket: &mut RawSocket, limit: Duration, max_bytes: u64) -> Observed {
    let mut scanner = Scanner::default();
    let mut observed = Observed { ending: Ending::Open, frames: (0, 0, 0), bytes: 0 };
    let pending = std::mem::take(&mut socket.pending);
    let deadline = Instant::now() + limit;
    let mut chunk = vec![0; 64 * 1024];
    let mut data = &pending[..];
    loop {
        observed.bytes += data.len() as u64;
        if let Some(code) = scanner.feed(data, &mut observed.frames) {
            observed.ending = Ending::CloseFrame(code);
            return observed;
        }
        if observed.bytes >= max_bytes {
            return observed;
        }
        match tokio::time::timeout_at(deadline, socket.stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                observed.ending = Ending::Eof;
                return observed;
            }
            Ok(Ok(n)) => data = &chunk[..n],
            Ok(Err(error)) => {
                observed.ending = Ending::Error(error.kind().to_string());
                return observed;
            }
            Err(_) => return observed,
        }
    }
}

/// Finds frame boundaries in a server's (unmasked) byte stream.
#[derive(Default)]
struct Scanner {
    /// Bytes of the current frame header (or close payload) not yet complete.
    head: Vec<u8>,
    /// Payload bytes still to skip.
    skip: u64,
}

impl Scanner {
    /// Consumes `data`, counting frames; returns `Some(code)` at a close frame.
    fn feed(&mut self, mut data: &[u8], frames: &mut (u64, u64, u64)) -> Option<Option<u16>> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(data.len() as u64) as usize;
                self.skip -= n as u64;
                data = &data[n..];
            }
            if data.is_empty() {
                return None;
            }
            // Gather at most what the header (and a close payload) needs.
            self.head.push(data[0]);
            data = &data[1..];
            let Some((opcode, header, len)) = parse_header(&self.head) else { continue };
            if opcode == opcode::CLOSE {
                if (self.head.len() as u64) < header as u64 + len {
                    continue;
                }
                let payload = &self.head[header..];
                return Some(payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]])));
            }
            match opcode {
                opcode::TEXT => frames.0 += 1,
                0xA => frames.1 += 1,
                _ => frames.2 += 1,
            }
            self.skip = len;
            self.head.clear();
        }
    }
}

/// A complete frame header: (opcode, header length, payload length).
fn parse_header(head: &[u8]) -> Option<(u8, usize, u64)> {
    let (&b0, &b1) = (head.first()?, head.get(1)?);
    let masked = b1 & 0x80 != 0;
    let (mut header, len) = match b1 & 0x7f {
        126 => (4, u16::from_be_bytes(head.get(2..4)?.try_into().ok()?) as u64),
        127 => (10, u64::from_be_bytes(head.get(2..10)?.try_into().ok()?)),
        len => (2, len as u64),
    };
    if masked {
        header += 4;
    }
    (head.len() >= header).then_some((b0 & 0x0f, header, len))
}

/// Milliseconds, for reports.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length_and_mask() {
        let small = frame(opcode::PING, &[7; 125]);
        assert_eq!((small[0], small[1], small.len()), (0x89, 0x80 | 125, 2 + 4 + 125));
        let medium = frame(opcode::TEXT, &[7; 1000]);
        assert_eq!(&medium[..4], &[0x81, 0x80 | 126, 0x03, 0xe8]);
        let large = frame(opcode::TEXT, &[7; 70_000]);
        assert_eq!(&large[..2], &[0x81, 0x80 | 127]);
        assert_eq!(u64::from_be_bytes(large[2..10].try_into().expect("8 bytes")), 70_000);
        // Unmasking gives the payload back.
        let mask = &small[2..6];
        assert!(small[6..].iter().zip(mask.iter().cycle()).all(|(b, m)| b ^ m == 7));
    }

    #[test]
    fn scanner_counts_frames_across_reads_and_finds_the_close_code() {
        let mut stream = vec![0x81, 3, b'a', b'b', b'c', 0x8a, 126, 0, 200];
        stream.extend_from_slice(&[0; 200]);
        stream.extend_from_slice(&[0x88, 4, 0x03, 0xf0, b'x', b'y']);
        let mut scanner = Scanner::default();
        let mut frames = (0, 0, 0);
        let mut found = None;
        for piece in stream.chunks(3) {
            if let Some(code) = scanner.feed(piece, &mut frames) {
                found = Some(code);
                break;
            }
        }
        assert_eq!((found, frames), (Some(Some(1008)), (1, 1, 0)));
    }

    #[test]
    fn only_loopback_targets() {
        assert_eq!(Target::parse("ws://127.0.0.1:8000").map(|t| t.base), Ok("ws://127.0.0.1:8000".into()));
        assert!(Target::parse("ws://localhost:1/ws/system").is_ok());
        assert!(Target::parse("ws://127.9.9.9:1").is_ok());
        assert!(Target::parse("ws://10.0.0.1:8000").is_err());
        assert!(Target::parse("ws://example.com:80").is_err());
        assert!(Target::parse("ws://[::1]:80").is_err());
        assert!(Target::parse("wss://127.0.0.1:80").is_err());
        assert!(Target::parse("ws://127.0.0.1").is_err());
    }
}
