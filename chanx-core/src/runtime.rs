//! The connection loop: authenticate, welcome, handle frames in arrival order, and
//! always run `on_disconnect`; plus the writer task that owns the socket's sink.

use std::any::Any;
use std::fmt::Display;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channel::Dispatch;
use crate::consumer::{Consumer, Disconnect};
use crate::context::{ConnectionInfo, Context, Outgoing, Sender};
use crate::frame::{self, Rejection};
use crate::server::Settings;
use crate::validate::ErrorItem;

/// A frame from the client, whatever the transport.
#[derive(Debug)]
pub(crate) enum Incoming {
    Text(Utf8Bytes),
    Binary,
    Ping(Bytes),
    Close(Option<u16>),
    TooBig,
    Failed(String),
}

/// Close codes the runtime sends.
const GOING_AWAY: u16 = 1001;
const TOO_BIG: u16 = 1009;
const INTERNAL_ERROR: u16 = 1011;

/// Serves one connection to its end.
pub(crate) async fn serve<C, R, W>(
    mut consumer: C,
    info: ConnectionInfo,
    reader: R,
    writer: W,
    settings: &Settings,
) where
    C: Consumer,
    R: Stream<Item = Incoming> + Unpin + Send,
    W: Sink<Outgoing> + Unpin + Send + 'static,
    W::Error: Display,
{
    let span = tracing::debug_span!(
        "connection",
        channel = %info.channel_name(),
        consumer = std::any::type_name::<C>()
    );
    async move {
        let (tx, rx) = mpsc::channel(settings.outbound_capacity);
        let done = CancellationToken::new();
        let writer = tokio::spawn(write_loop(writer, rx, done.clone()).in_current_span());
        let mut cx = Context::<C>::new(Arc::new(info), Sender::new(tx));
        let reason = open(&mut consumer, &mut cx, reader, settings).await;
        tracing::debug!(?reason, "disconnected");
        if let Err(panic) = AssertUnwindSafe(consumer.on_disconnect(&mut cx, &reason)).catch_unwind().await {
            tracing::error!(panic = panic_text(&panic), "on_disconnect panicked");
        }
        done.cancel();
        drop(cx);
        if let Err(error) = writer.await {
            tracing::error!(%error, "connection writer failed");
        }
    }
    .instrument(span)
    .await
}

/// Runs the hooks and the receive loop; returns how the connection ended.
async fn open<C, R>(consumer: &mut C, cx: &mut Context<C>, mut reader: R, settings: &Settings) -> Disconnect
where
    C: Consumer,
    R: Stream<Item = Incoming> + Unpin + Send,
{
    match AssertUnwindSafe(consumer.authenticate(cx)).catch_unwind().await {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => {
            let code = refusal.close_code();
            tracing::info!(status = refusal.status_code(), "authentication refused");
            // If the client is already gone there is nobody to tell.
            let _ = cx.raw_sender().send_message(refusal.into_message()).await;
            return server_close(cx, code, "Authentication failed").await;
        }
        Err(panic) => {
            tracing::error!(panic = panic_text(&panic), "authenticate panicked");
            return server_close(cx, INTERNAL_ERROR, "Internal error").await;
        }
    }
    let welcome = AssertUnwindSafe(consumer.post_authentication(cx)).catch_unwind().await;
    let failure = match welcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(panic) => Some(panic_text(&panic).to_owned()),
    };
    if let Some(failure) = failure {
        tracing::error!(error = failure, "post_authentication failed");
        return server_close(cx, INTERNAL_ERROR, "Internal error").await;
    }
    if let Some(code) = cx.close_code {
        return Disconnect::ServerClosed { code };
    }

    let completion = C::SEND_COMPLETION.unwrap_or(settings.send_completion);
    let mut shutdown = pin!(settings.shutdown.token.clone().cancelled_owned());
    loop {
        let incoming = tokio::select! {
            biased;
            incoming = reader.next() => incoming,
            () = &mut shutdown => return server_close(cx, GOING_AWAY, "Server shutting down").await,
        };
        match incoming {
            Some(Incoming::Text(text)) => {
                handle_text(consumer, cx, &text, completion).await;
                if let Some(code) = cx.close_code {
                    return Disconnect::ServerClosed { code };
                }
            }
            Some(Incoming::Binary) => {
                let error = ErrorItem::frame("json_invalid", "Invalid JSON: binary frames are not supported");
                send_error(cx, &[error], None).await;
            }
            Some(Incoming::Ping(data)) => {
                // Answered through the queue so that the pong follows earlier replies.
                let _ = cx.raw_sender().send_frame(Outgoing::Pong(data)).await;
            }
            Some(Incoming::Close(code)) => return Disconnect::ClientClosed { code },
            Some(Incoming::TooBig) => {
                let reason = format!("Message too big: the limit is {} bytes", settings.max_message_size);
                tracing::info!(limit = settings.max_message_size, "frame over the size limit");
                return server_close(cx, TOO_BIG, reason).await;
            }
            Some(Incoming::Failed(error)) => {
                tracing::debug!(%error, "connection lost");
                return Disconnect::Lost;
            }
            None => return Disconnect::Lost,
        }
    }
}

async fn server_close<C>(cx: &mut Context<C>, code: u16, reason: impl Into<String>) -> Disconnect {
    // A closed queue means the client is gone already; the close frame has no reader.
    let _ = cx.close(code, reason).await;
    Disconnect::ServerClosed { code }
}

/// Handles one text frame: decode, dispatch, answer, complete.
async fn handle_text<C: Consumer>(consumer: &mut C, cx: &mut Context<C>, text: &str, completion: bool) {
    let envelope = match frame::parse(text) {
        Ok(envelope) => envelope,
        Err(Rejection::Frame(errors)) => return send_error(cx, &errors, None).await,
        Err(Rejection::NotSubscribed(topic)) => {
            let detail = format!("Not subscribed to '{topic}'");
            if let Ok(frame) = frame::encode_topic_error("not_subscribed", &detail, &topic) {
                let _ = cx.raw_sender().send_frame(Outgoing::Text(frame)).await;
            }
            return;
        }
    };
    cx.reference = envelope.reference.map(|r| Box::from(r.get()));
    let outcome = match frame::action(&envelope) {
        Err(error) => Err(vec![error]),
        Ok(action) => {
            let dispatched =
                AssertUnwindSafe(consumer.dispatch(cx, &action, envelope.payload)).catch_unwind().await;
            match dispatched {
                Ok(Dispatch::Done) => Ok(()),
                Ok(Dispatch::Unknown) => Err(vec![frame::unknown_action(&action, C::ACTIONS)]),
                Ok(Dispatch::Invalid(errors)) => Err(errors),
                Ok(Dispatch::Failed(error)) => {
                    tracing::error!(%action, %error, "handler failed");
                    send_failure(cx, &action).await;
                    Ok(())
                }
                Err(panic) => {
                    tracing::error!(%action, panic = panic_text(&panic), "handler panicked");
                    send_failure(cx, &action).await;
                    Ok(())
                }
            }
        }
    };
    let reference = cx.reference.take();
    if let Err(errors) = outcome {
        send_error(cx, &errors, reference.as_deref()).await;
    }
    if completion {
        send_raw(cx, "complete", &(), reference.as_deref()).await;
    }
}

async fn send_failure<C>(cx: &Context<C>, action: &str) {
    #[derive(Serialize)]
    struct Detail {
        detail: String,
    }
    let detail = Detail { detail: format!("Failed to process message for {action}") };
    send_raw(cx, "error", &detail, cx.reference.as_deref()).await;
}

async fn send_error<C>(cx: &Context<C>, errors: &[ErrorItem], reference: Option<&str>) {
    send_raw(cx, "error", errors, reference).await;
}

/// Sends a framework frame; a closed connection has nobody to read it, so it is dropped.
async fn send_raw<C, P: Serialize + ?Sized>(
    cx: &Context<C>,
    action: &str,
    payload: &P,
    reference: Option<&str>,
) {
    match frame::encode(action, payload, reference) {
        Ok(text) => {
            let _ = cx.raw_sender().send_frame(Outgoing::Text(text)).await;
        }
        Err(error) => tracing::error!(%error, action, "failed to encode a framework frame"),
    }
}

fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-text panic payload)")
}

/// Owns the socket's sink: writes queued frames in batches, one flush per batch.
async fn write_loop<W>(mut sink: W, mut rx: mpsc::Receiver<Outgoing>, done: CancellationToken)
where
    W: Sink<Outgoing> + Unpin,
    W::Error: Display,
{
    let mut batch = Vec::new();
    let mut done = pin!(done.cancelled_owned());
    let mut finishing = false;
    loop {
        if finishing {
            // The connection is over: write what is already queued, then stop.
            while let Ok(frame) = rx.try_recv() {
                batch.push(frame);
            }
        } else {
            tokio::select! {
                biased;
                received = rx.recv_many(&mut batch, 64) => {
                    if received == 0 {
                        break;
                    }
                }
                () = &mut done => {
                    finishing = true;
                    continue;
                }
            }
        }
        let mut closed = false;
        for frame in batch.drain(..) {
            closed = matches!(frame, Outgoing::Close(..));
            if let Err(error) = sink.feed(frame).await {
                tracing::debug!(%error, "write failed; the client is gone");
                return;
            }
            if closed {
                break;
            }
        }
        if let Err(error) = sink.flush().await {
            tracing::debug!(%error, "flush failed; the client is gone");
            return;
        }
        if closed || finishing {
            break;
        }
    }
    let _ = sink.close().await;
}
