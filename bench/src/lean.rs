//! The lean baseline: the System Echo protocol and the fan-out with nothing but the
//! protocol's own work, on the leanest WebSocket stack for tokio (hyper's HTTP/1 upgrade,
//! then fastwebsockets). One task per connection does everything: the upgrade, then
//! reading frames and writing each reply inline, with no queue and no second task. The
//! JSON work is the axum baseline's ([`crate::servers`]), so the two differ only in the
//! WebSocket stack. Fan-out members share a `tokio::sync::broadcast` channel, each
//! writing the shared bytes of a broadcast to its own socket.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastwebsockets::upgrade::{UpgradeFut, is_upgrade_request, upgrade};
use fastwebsockets::{
    FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocket, WebSocketError,
};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::ReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use crate::servers::{FanoutRequest, PONG, fanout_request, system_reply, welcome_json};

type Stream = TokioIo<Upgraded>;

/// Which WebSocket endpoint a connection asked for.
enum Endpoint {
    /// `/ws/system`: System Echo.
    System,
    /// `/ws/fanout`: a fan-out member.
    Fanout,
}

/// Serves System Echo at `/ws/system` and the fan-out at `/ws/fanout` on `listener`,
/// until the process ends. A failed accept (such as running out of file descriptors) is
/// reported and retried after a pause, as `axum::serve` does.
pub async fn serve(listener: TcpListener) {
    let (fanout, _) = broadcast::channel::<Bytes>(1024);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, fanout.clone()));
            }
            Err(error) => {
                eprintln!("accept: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One connection, in one task: the HTTP/1 upgrade, then the WebSocket it became.
async fn connection(stream: TcpStream, fanout: broadcast::Sender<Bytes>) {
    let accepted = Arc::new(Mutex::new(None));
    let service = {
        let accepted = accepted.clone();
        service_fn(move |request| std::future::ready(Ok::<_, Infallible>(accept(request, &accepted))))
    };
    // Resolves once the 101 response is written and the connection upgraded (or closed).
    let served = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
    if served.is_err() {
        return;
    }
    let Some((endpoint, upgrading)) = accepted.lock().ok().and_then(|mut slot| slot.take()) else { return };
    let Ok(socket) = upgrading.await else { return };
    match endpoint {
        Endpoint::System => system_echo(socket).await,
        Endpoint::Fanout => fanout_member(socket, &fanout).await,
    }
}

/// Answers one HTTP request: the WebSocket upgrade of a known endpoint (kept in
/// `accepted` for the connection's task), or an error status.
fn accept(
    mut request: Request<Incoming>,
    accepted: &Mutex<Option<(Endpoint, UpgradeFut)>>,
) -> Response<Empty<Bytes>> {
    let endpoint = match request.uri().path() {
        "/ws/system" => Endpoint::System,
        "/ws/fanout" => Endpoint::Fanout,
        _ => return status(StatusCode::NOT_FOUND),
    };
    if !is_upgrade_request(&request) {
        return status(StatusCode::UPGRADE_REQUIRED);
    }
    match (upgrade(&mut request), accepted.lock()) {
        (Ok((response, upgrading)), Ok(mut slot)) => {
            *slot = Some((endpoint, upgrading));
            response
        }
        (Err(_), _) => status(StatusCode::BAD_REQUEST),
        (_, Err(_)) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}

/// A text frame of `text`'s bytes.
fn text(text: &[u8]) -> Frame<'_> {
    Frame::text(Payload::Borrowed(text))
}

/// System Echo: the welcome, then each text frame's reply written before the next frame
/// is read. fastwebsockets answers pings and the close handshake by itself.
async fn system_echo(socket: WebSocket<Stream>) {
    let mut socket = FragmentCollector::new(socket);
    let Some(welcome) = welcome_json() else { return };
    if socket.write_frame(text(welcome.as_bytes())).await.is_err() {
        return;
    }
    while let Ok(frame) = socket.read_frame().await {
        match frame.opcode {
            OpCode::Text => {
                // fastwebsockets checked the UTF-8 already; this is the `&str` serde reads.
                let Ok(message) = std::str::from_utf8(&frame.payload) else { return };
                let Some(reply) = system_reply(message) else { continue };
                if socket.write_frame(text(reply.as_bytes())).await.is_err() {
                    return;
                }
            }
            OpCode::Close => return,
            _ => {}
        }
    }
}

type Reader = FragmentCollectorRead<ReadHalf<Stream>>;

/// Reads the next frame; takes and gives back the reader, so that the read can stay
/// pending across the fan-out loop's turns (fastwebsockets' reads are not cancel-safe).
async fn next_frame(mut reader: Reader) -> (Reader, Result<Frame<'static>, WebSocketError>) {
    // Pings and closes are answered by the loop itself, through the write half.
    let frame = reader.read_frame(&mut |_| std::future::ready(Ok::<_, Infallible>(()))).await;
    (reader, frame)
}

/// A fan-out member: its `ping` is answered, its `fire` broadcast, and every broadcast
/// written to its socket as it arrives; one task reads and writes.
async fn fanout_member(socket: WebSocket<Stream>, fanout: &broadcast::Sender<Bytes>) {
    let (mut reader, mut writer) = socket.split(tokio::io::split);
    reader.set_auto_close(false);
    reader.set_auto_pong(false);
    let mut members = fanout.subscribe();
    let mut reading = std::pin::pin!(next_frame(FragmentCollectorRead::new(reader)));
    loop {
        tokio::select! {
            (reader, frame) = &mut reading => {
                let Ok(frame) = frame else { return };
                let written = match frame.opcode {
                    OpCode::Text => match std::str::from_utf8(&frame.payload).ok().and_then(fanout_request) {
                        Some(FanoutRequest::Ping) => writer.write_frame(text(PONG.as_bytes())).await,
                        Some(FanoutRequest::Broadcast(frame)) => {
                            let _ = fanout.send(frame.into());
                            Ok(())
                        }
                        None => Ok(()),
                    },
                    OpCode::Ping => writer.write_frame(Frame::pong(frame.payload)).await,
                    OpCode::Close => {
                        let _ = writer.write_frame(Frame::close_raw(frame.payload)).await;
                        return;
                    }
                    _ => Ok(()),
                };
                if written.is_err() {
                    return;
                }
                reading.set(next_frame(reader));
            }
            broadcast = members.recv() => {
                let Ok(frame) = broadcast else { return };
                if writer.write_frame(text(&frame)).await.is_err() {
                    return;
                }
            }
        }
    }
}
