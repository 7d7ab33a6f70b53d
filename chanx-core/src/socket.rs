//! The server's WebSocket (RFC 6455) on an upgraded connection's two halves: the
//! client's frames read as the runtime's [`Incoming`] ([`SocketReader`]), and
//! [`Outgoing`] frames written ([`SocketSink`]).
//!
//! tungstenite parses and formats the frame headers and checks close codes; reading
//! and buffering are done here, because both WebSocket crates at hand cost what this
//! framework measures: tungstenite's reader clears its buffer before every read and
//! reaches the socket through a blocking-style adapter, and fastwebsockets' keeps an
//! 8 KiB buffer per connection. Here the reader is polled in the connection's task,
//! never clears its buffer, asks the socket for `Settings::read_buffer_size` bytes at
//! a time, and lets a large message's buffer go with the message. It puts fragmented
//! messages together within the same size limit as whole ones, requires a client's
//! frames to be masked, answers pings and a client's close through the connection's
//! [`Control`](transport::Control) lane (so a client that floods pings and never reads
//! holds one pong, not one per ping), and refuses what the protocol forbids with 1002
//! (1007 for text that is not UTF-8, 1009 for a message over the limit).
//!
//! The sink encodes frames into one buffer and writes each batch with as few writes as
//! the socket takes; the buffer holds at most `write_buffer_size` plus one fragment.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_util::either::Either;
use tokio_util::io::poll_read_buf;

use crate::transport::{self, Incoming, NO_STATUS, Outgoing};

/// Texts larger than this go out in fragments of this size, so that the socket's write
/// buffer stays bounded whatever a handler sends.
const FRAGMENT: usize = 64 * 1024;

/// The largest frame header: a client's, with 8 bytes of length and a 4-byte mask.
const MAX_HEADER: usize = 14;

/// What the first read of a connection asks for: reads grow from this to
/// `Settings::read_buffer_size` while the client sends more than they bring.
const FIRST_READ: usize = 512;

/// The receiving half of an upgraded connection: a TCP connection served by
/// [`chanx::serve`](crate::serve), split without a lock, or any other server's, behind
/// hyper's `Upgraded` and split by tokio.
pub(crate) type ReadIo = Either<OwnedReadHalf, ReadHalf<TokioIo<Upgraded>>>;

/// The sending half of an upgraded connection (see [`ReadIo`]).
pub(crate) type WriteIo = Either<OwnedWriteHalf, WriteHalf<TokioIo<Upgraded>>>;

/// Splits an upgraded connection; the bytes are what the client sent after its
/// upgrade request and the HTTP server already read.
pub(crate) fn split(upgraded: Upgraded) -> (ReadIo, WriteIo, Bytes) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (read, write) = parts.io.into_inner().into_split();
            (Either::Left(read), Either::Left(write), parts.read_buf)
        }
        Err(upgraded) => {
            let (read, write) = tokio::io::split(TokioIo::new(upgraded));
            (Either::Right(read), Either::Right(write), Bytes::new())
        }
    }
}

/// The frames a client sends, as the runtime's [`Incoming`]; ends after the client's
/// close frame, a protocol error or the end of the stream.
///
/// Every frame is reported, fragments and pongs as [`Incoming::Control`]: they show the
/// client is there and count against the inbound rate limit.
///
/// The frames are read into one buffer, never cleared before a read. Each read asks
/// for room for the rest of the frame (growing the buffer at most twofold at a time, so
/// that it follows the bytes that arrive, not the length a header announces), and at
/// least `read_size` bytes: 512 at first,
/// doubled each time a read fills all it asked for, up to `max_read`. A client of small
/// messages keeps a small buffer (the buffer is most of an idle connection's memory);
/// one that sends more at once gets larger reads. A buffer grown for a large message is
/// let go once the message is taken.
pub(crate) struct SocketReader<R> {
    io: R,
    buf: BytesMut,
    read_size: usize,
    max_read: usize,
    control: Arc<transport::Control>,
    max_message_size: usize,
    /// A fragmented message being received.
    message: Option<Partial>,
    done: bool,
}

/// The fragments of a message received so far.
struct Partial {
    text: bool,
    /// A text's bytes (a binary message's are not kept: the runtime refuses it whole).
    data: BytesMut,
    len: usize,
}

/// What the buffer holds.
enum Parsed {
    Frame {
        fin: bool,
        opcode: OpCode,
        payload: BytesMut,
    },
    /// Not a whole frame yet: the frame needs this many bytes in the buffer.
    More(usize),
    /// A frame the connection ends on, refused from its header.
    Refused(Incoming),
}

/// A frame's header (RFC 6455, 5.2).
struct Header {
    fin: bool,
    /// Any of RSV1, RSV2 and RSV3.
    reserved_bits: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    /// The payload's length.
    len: u64,
    /// The header's own length.
    head: usize,
}

impl Header {
    /// The header at the start of `buf`; `None` while part of it is still to come.
    fn parse(buf: &[u8]) -> Option<Header> {
        let [first, second, rest @ ..] = buf else { return None };
        let (len, rest) = match second & 0x7F {
            126 => rest.split_first_chunk().map(|(len, rest)| (u64::from(u16::from_be_bytes(*len)), rest))?,
            127 => rest.split_first_chunk().map(|(len, rest)| (u64::from_be_bytes(*len), rest))?,
            len => (u64::from(len), rest),
        };
        let (mask, rest) = match second & 0x80 {
            0 => (None, rest),
            _ => rest.split_first_chunk().map(|(mask, rest)| (Some(*mask), rest))?,
        };
        Some(Header {
            fin: first & 0x80 != 0,
            reserved_bits: first & 0x70 != 0,
            opcode: OpCode::from(first & 0x0F),
            mask,
            len,
            head: buf.len() - rest.len(),
        })
    }
}

impl<R: AsyncRead + Unpin> SocketReader<R> {
    /// Reads `io` after the bytes already `read`, asking for up to `max_read` bytes at a
    /// time; messages (whole or fragmented) over `max_message_size` bytes are refused
    /// from their headers.
    pub(crate) fn new(
        io: R,
        read: Bytes,
        max_read: usize,
        control: Arc<transport::Control>,
        max_message_size: usize,
    ) -> Self {
        // A copy: `read` is a view of the HTTP server's whole read buffer.
        let buf = BytesMut::from(&read[..]);
        let read_size = FIRST_READ.min(max_read);
        SocketReader { io, buf, read_size, max_read, control, max_message_size, message: None, done: false }
    }

    /// The next frame in the buffer, unmasked, with the protocol's checks on its header.
    fn parse(&mut self) -> Parsed {
        let Some(header) = Header::parse(&self.buf) else { return Parsed::More(MAX_HEADER) };
        let refused = |reason| Parsed::Refused(Incoming::Invalid(1002, reason));
        if header.reserved_bits {
            return refused("A reserved bit set without an extension");
        }
        let Some(mask) = header.mask else { return refused("A client frame without a mask") };
        let Header { fin, opcode, len, head, .. } = header;
        match opcode {
            OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                return refused("A reserved opcode");
            }
            OpCode::Control(_) if !fin || len > 125 => {
                return refused("A control frame fragmented or over 125 bytes");
            }
            _ => {}
        }
        let len = match usize::try_from(len) {
            Ok(len) if len <= self.max_message_size => len,
            _ => return Parsed::Refused(Incoming::TooBig),
        };
        if self.buf.len() < head + len {
            return Parsed::More(head + len);
        }
        self.buf.advance(head);
        let mut payload = self.buf.split_to(len);
        if self.buf.is_empty() && len > self.max_read {
            // Let a large message's buffer go with the message.
            self.buf = BytesMut::new();
        }
        unmask(&mut payload, mask);
        Parsed::Frame { fin, opcode, payload }
    }

    /// What a whole frame means for the runtime.
    fn on_frame(&mut self, fin: bool, opcode: OpCode, payload: BytesMut) -> Incoming {
        match opcode {
            OpCode::Data(Data::Text | Data::Binary) if self.message.is_some() => {
                Incoming::Invalid(1002, "A new message before the end of a fragmented one")
            }
            OpCode::Data(Data::Text) if fin => complete(true, payload.freeze()),
            OpCode::Data(Data::Binary) if fin => Incoming::Binary,
            OpCode::Data(data @ (Data::Text | Data::Binary)) => {
                let text = data == Data::Text;
                let len = payload.len();
                self.message =
                    Some(Partial { text, data: if text { payload } else { BytesMut::new() }, len });
                Incoming::Control
            }
            OpCode::Data(_) => self.continuation(fin, &payload),
            OpCode::Control(Control::Ping) => {
                self.control.pong(payload.freeze());
                Incoming::Control
            }
            OpCode::Control(Control::Close) => self.close(&payload),
            OpCode::Control(_) => Incoming::Control,
        }
    }

    /// A fragment after a message's first: counted against the size limit, kept if the
    /// message is a text, and the message complete with the last one.
    fn continuation(&mut self, fin: bool, payload: &[u8]) -> Incoming {
        let Some(message) = &mut self.message else {
            return Incoming::Invalid(1002, "A continuation frame outside a fragmented message");
        };
        message.len += payload.len();
        if message.len > self.max_message_size {
            return Incoming::TooBig;
        }
        if message.text {
            message.data.extend_from_slice(payload);
        }
        match self.message.take_if(|_| fin) {
            Some(message) => complete(message.text, message.data.freeze()),
            None => Incoming::Control,
        }
    }

    /// The client's close: answered at once with its own code and reason (what was
    /// queued for it is dropped: it is leaving), or with 1002 for a code a client may
    /// not send.
    fn close(&self, payload: &[u8]) -> Incoming {
        let (code, reason) = match payload {
            [] => (None, &[][..]),
            [_] => return Incoming::Invalid(1002, "A close frame of one byte"),
            _ if payload.len() > 125 => return Incoming::Invalid(1002, "A close frame over 125 bytes"),
            [high, low, reason @ ..] => (Some(u16::from_be_bytes([*high, *low])), reason),
        };
        let Ok(reason) = Utf8Bytes::try_from(Bytes::copy_from_slice(reason)) else {
            return Incoming::Invalid(1007, "Invalid UTF-8 in a close reason");
        };
        let reply = match code {
            None => (NO_STATUS, reason),
            Some(code) if CloseCode::from(code).is_allowed() => (code, reason),
            Some(_) => (1002, Utf8Bytes::from_static("Protocol violation")),
        };
        self.control.close(reply.0, reply.1, true);
        Incoming::Close(code.map(|_| reply.0))
    }
}

impl<R: AsyncRead + Unpin> Stream for SocketReader<R> {
    type Item = Incoming;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Incoming>> {
        let this = &mut *self;
        while !this.done {
            let needed = match this.parse() {
                Parsed::Frame { fin, opcode, payload } => {
                    let incoming = this.on_frame(fin, opcode, payload);
                    this.done = !matches!(incoming, Incoming::Text(_) | Incoming::Binary | Incoming::Control);
                    return Poll::Ready(Some(incoming));
                }
                Parsed::Refused(incoming) => {
                    this.done = true;
                    return Poll::Ready(Some(incoming));
                }
                Parsed::More(needed) => needed,
            };
            // Room for the rest of the frame, but never more than doubling what is held:
            // a header alone does not make the buffer grow to the size it announces.
            let held = this.buf.len().max(this.read_size);
            let wanted = needed.saturating_sub(this.buf.len()).min(held).max(this.read_size);
            if this.buf.capacity() - this.buf.len() < wanted {
                this.buf.reserve(wanted);
            }
            let room = this.buf.capacity() - this.buf.len();
            let ended = match ready!(poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buf)) {
                Ok(0) => Incoming::Failed("reset without closing handshake".into()),
                Ok(read) => {
                    if read == room {
                        this.read_size = (this.read_size * 2).min(this.max_read);
                    }
                    continue;
                }
                Err(error) => Incoming::Failed(error.to_string()),
            };
            this.done = true;
            return Poll::Ready(Some(ended));
        }
        Poll::Ready(None)
    }
}

/// Unmasks a client frame's payload (RFC 6455, 5.3): XOR with the 4-byte key, in
/// 4-byte chunks the compiler vectorizes.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        chunk.iter_mut().zip(mask).for_each(|(byte, key)| *byte ^= key);
    }
    chunks.into_remainder().iter_mut().zip(mask).for_each(|(byte, key)| *byte ^= key);
}

/// A whole message.
fn complete(text: bool, data: Bytes) -> Incoming {
    if !text {
        return Incoming::Binary;
    }
    match Utf8Bytes::try_from(data) {
        Ok(text) => Incoming::Text(text),
        Err(_) => Incoming::Invalid(1007, "Invalid UTF-8 in a text frame"),
    }
}

/// Writes [`Outgoing`] frames on the socket's sending half: each frame is encoded into
/// one buffer, written out once it holds `limit` bytes and at each flush. A text over
/// [`FRAGMENT`] bytes goes out in fragments, one at a time as the buffer has room, so
/// the buffer never holds more than `limit` plus one fragment. Nothing is written after
/// a close frame.
pub(crate) struct SocketSink<W> {
    io: W,
    buf: Vec<u8>,
    /// How much of `buf` is written.
    written: usize,
    /// The part of a large text not yet in `buf`; `continuing` once its first fragment is.
    rest: Bytes,
    continuing: bool,
    limit: usize,
    closed: bool,
}

impl<W: AsyncWrite + Unpin> SocketSink<W> {
    /// A sink writing to `io`, buffering up to `limit` bytes before it writes.
    pub(crate) fn new(io: W, limit: usize) -> Self {
        SocketSink {
            io,
            buf: Vec::new(),
            written: 0,
            rest: Bytes::new(),
            continuing: false,
            limit,
            closed: false,
        }
    }

    /// Appends a frame: its header (RFC 6455, 5.2; a server's frames are not masked),
    /// then its payload.
    fn push(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let first = u8::from(opcode) | if fin { 0x80 } else { 0 };
        let len = payload.len();
        match (u8::try_from(len), u16::try_from(len)) {
            (Ok(short @ 0..=125), _) => self.buf.extend_from_slice(&[first, short]),
            (_, Ok(medium)) => {
                self.buf.extend_from_slice(&[first, 126]);
                self.buf.extend_from_slice(&medium.to_be_bytes());
            }
            _ => {
                self.buf.extend_from_slice(&[first, 127]);
                self.buf.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.buf.extend_from_slice(payload);
    }

    /// Writes out the whole buffer.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            match ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.written..]))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => self.written += n,
            }
        }
        self.buf.clear();
        self.written = 0;
        // A large frame's storage is not kept once it is written.
        if self.buf.capacity() > self.limit {
            self.buf = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> Sink<Outgoing> for SocketSink<W> {
    type Error = io::Error;

    /// Ready once the buffer is under its limit and a large text's fragments are all
    /// in it.
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.buf.is_empty() && this.buf.len() >= this.limit {
                ready!(this.poll_write_out(cx))?;
            } else if this.rest.is_empty() {
                return Poll::Ready(Ok(()));
            } else {
                let fragment = this.rest.split_to(FRAGMENT.min(this.rest.len()));
                let opcode = OpCode::Data(if this.continuing { Data::Continue } else { Data::Text });
                this.continuing = !this.rest.is_empty();
                this.push(!this.continuing, opcode, &fragment);
            }
        }
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Outgoing) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::other("the connection's close frame is sent"));
        }
        match frame {
            Outgoing::Text(text) | Outgoing::Broadcast(text) if text.len() > FRAGMENT => {
                self.rest = text.into()
            }
            Outgoing::Text(text) | Outgoing::Broadcast(text) => {
                self.push(true, OpCode::Data(Data::Text), text.as_bytes());
            }
            Outgoing::Pong(data) => self.push(true, OpCode::Control(Control::Pong), &data),
            Outgoing::Ping => self.push(true, OpCode::Control(Control::Ping), &[]),
            Outgoing::Close(code, reason) => {
                self.closed = true;
                let mut payload = Vec::new();
                if code != NO_STATUS {
                    payload.extend_from_slice(&code.to_be_bytes());
                    // Reasons are cut to fit a control frame where they are made.
                    payload.extend_from_slice(reason.as_bytes());
                }
                self.push(true, OpCode::Control(Control::Close), &payload);
            }
        }
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_ready(cx))?;
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Writes what is left; the socket itself is closed when the connection's task
    /// drops it.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

    use super::*;

    /// A client's text frame, masked with 1, 2, 3, 4.
    fn client_frame(payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![0x81];
        match u8::try_from(payload.len()) {
            Ok(len) if len < 126 => out.push(0x80 | len),
            _ => {
                out.push(0x80 | 126);
                out.extend_from_slice(&u16::try_from(payload.len()).expect("under 64 KiB").to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(byte, key)| byte ^ key));
        out
    }

    #[tokio::test]
    async fn reads_grow_with_a_burst_and_a_large_messages_buffer_goes_with_it() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = SocketReader::new(server, Bytes::new(), 4096, Arc::default(), 1 << 20);
        assert_eq!(reader.read_size, FIRST_READ);
        // 102 bytes each: the unmasking's last chunk is short.
        let text = "x".repeat(102);
        let burst: Vec<u8> = (0..100).flat_map(|_| client_frame(text.as_bytes())).collect();
        client.write_all(&burst).await.expect("write");
        for _ in 0..100 {
            assert!(matches!(reader.next().await, Some(Incoming::Text(t)) if t.as_str() == text));
        }
        assert_eq!(reader.read_size, 4096, "grown to the most a read may ask for");
        let big = "y".repeat(10_000);
        client.write_all(&client_frame(big.as_bytes())).await.expect("write");
        assert!(matches!(reader.next().await, Some(Incoming::Text(t)) if t.as_str() == big));
        assert_eq!(reader.buf.capacity(), 0, "the large message's buffer is not kept");
    }

    #[tokio::test]
    async fn a_header_alone_does_not_grow_the_buffer_to_its_length() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = SocketReader::new(server, Bytes::new(), 4096, Arc::default(), 1 << 20);
        // A text frame announcing 1,000,000 bytes, then 10 of them.
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&1_000_000u64.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(&[b'x'; 10]);
        client.write_all(&frame).await.expect("write");
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut reader).poll_next(&mut cx).is_pending(), "the frame is not whole");
        assert!(reader.buf.capacity() < 16 * 1024, "{} bytes held for 24 received", reader.buf.capacity());
    }

    #[test]
    fn headers_written_are_read_back_at_every_length_form_and_not_before_they_are_whole() {
        for len in [0, 1, 125, 126, 65_535, 65_536, 70_000] {
            let mut sink = SocketSink::new(tokio::io::sink(), 1 << 20);
            sink.push(len != 126, OpCode::Data(Data::Binary), &vec![7; len]);
            let header = Header::parse(&sink.buf).expect("a whole header");
            assert_eq!(
                (header.fin, header.opcode, header.len),
                (len != 126, OpCode::Data(Data::Binary), len as u64)
            );
            assert_eq!((header.mask, header.reserved_bits), (None, false));
            assert_eq!(header.head + len, sink.buf.len(), "the header's length at {len}");
            // The same as tungstenite (the clients' side) reads it.
            let mut cursor = std::io::Cursor::new(&sink.buf[..]);
            let (theirs, their_len) = FrameHeader::parse(&mut cursor).expect("valid").expect("whole");
            assert_eq!((theirs.is_final, theirs.opcode, their_len), (header.fin, header.opcode, header.len));
            assert_eq!(usize::try_from(cursor.position()).ok(), Some(header.head));
            assert!(
                (0..header.head).all(|cut| Header::parse(&sink.buf[..cut]).is_none()),
                "a cut header at {len}"
            );
        }
        let frame = client_frame(b"hi");
        let header = Header::parse(&frame).expect("a whole header");
        assert_eq!((header.mask, header.head, header.len), (Some([1, 2, 3, 4]), 6, 2));
        let reserved = Header::parse(&[0xC1, 0x80, 0, 0, 0, 0]).expect("a whole header");
        assert!(reserved.reserved_bits && reserved.fin);
    }
}
