//! What comes off the socket ([`Incoming`]) and goes on it ([`Outgoing`]), the writer
//! that owns the socket's sending half (polled in the connection's task, beside its
//! loop), and the [`Control`] lane.
//!
//! The writer takes frames from the connection's byte-bounded outbound queue and
//! requests from its [`Control`] lane, which bypass the queue: a heartbeat ping, and a
//! close that either follows what is queued or replaces it (an overflow close must
//! reach a client whose queue is full).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::FusedFuture;
use futures_util::{Sink, SinkExt};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::case;
use crate::protocol::frame::{self, Keys};
use crate::protocol::message::GroupCompleteMessage;
use crate::queue::{Cost, QueueReceiver};
use crate::wake::{LAGGING, MAIN, REQUESTED, SHUTDOWN, Signals};

/// A frame from the client, whatever the transport.
#[derive(Debug)]
pub(crate) enum Incoming {
    Text(Utf8Bytes),
    Binary,
    /// A frame the transport handled (a pong, a ping it answers, a fragment of a
    /// message): it only shows the client is there.
    Control,
    /// A ping to answer through the outbound queue (the in-process test client).
    Ping(Bytes),
    Close(Option<u16>),
    TooBig,
    /// The client broke the WebSocket protocol: close with this code (1007 for text
    /// that is not UTF-8, 1002 otherwise).
    Invalid(u16, &'static str),
    Failed(String),
}

/// A frame on its way to the client.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(Utf8Bytes),
    /// A group broadcast: written as it is, then `group_complete` if completion is on.
    Broadcast(Utf8Bytes),
    Pong(Bytes),
    /// Only from the [`Control`] lane, never queued.
    Ping,
    /// Only from the [`Control`] lane, never queued. Code [`NO_STATUS`] is a close frame
    /// without a code (the reply to a client's close that had none).
    Close(u16, Utf8Bytes),
}

/// The close code that stands for "no code": never written in a close frame (RFC 6455,
/// 7.4.1), so it marks a close frame with an empty payload.
pub(crate) const NO_STATUS: u16 = 1005;

impl Cost for Outgoing {
    fn cost(&self) -> usize {
        match self {
            Outgoing::Text(text) | Outgoing::Broadcast(text) => text.len(),
            Outgoing::Pong(data) => data.len(),
            Outgoing::Ping | Outgoing::Close(..) => 0,
        }
    }
}

impl Cost for Utf8Bytes {
    fn cost(&self) -> usize {
        self.len()
    }
}

/// Requests to the writer that do not wait in the outbound queue, and the connection's
/// [`Stop`] to its loop: both told through the connection's [`Signals`], which are made
/// with the lane, before the connection's task.
#[derive(Debug, Default)]
pub(crate) struct Control {
    signals: Arc<Signals>,
    state: Mutex<ControlState>,
}

/// Why a connection's loop must end now, whatever it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Its buffers are full ([`Overflow::Close`](crate::layer::Overflow::Close)): closed with 1013.
    Lagging,
    /// The server shuts down: closed with 1001.
    Shutdown,
}

#[derive(Debug, Default)]
struct ControlState {
    ping: bool,
    /// The payload of the latest ping to answer: a client that pings faster than it
    /// reads gets the pong of its last ping only (RFC 6455, 5.5.3).
    pong: Option<Bytes>,
    close: Option<CloseRequest>,
    finish: bool,
}

#[derive(Debug)]
struct CloseRequest {
    code: u16,
    reason: Utf8Bytes,
    /// Drop what is queued instead of writing it first.
    discard: bool,
}

impl Stop {
    /// The stop the connection's loop must honour, if any: read with one load of its
    /// signals on each of the loop's turns.
    pub(crate) fn raised(signals: &Signals) -> Option<Stop> {
        match signals.raised(LAGGING | SHUTDOWN) {
            0 => None,
            LAGGING => Some(Stop::Lagging),
            _ => Some(Stop::Shutdown),
        }
    }
}

impl Control {
    /// The connection's signals, which its loop and writer keep (their own `Arc`, so
    /// that their turns read the signals' cache line, not this one's).
    pub fn signals(&self) -> &Arc<Signals> {
        &self.signals
    }

    fn update(&self, change: impl FnOnce(&mut ControlState)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        // The writer is polled on each of the task's turns.
        self.signals.raise(REQUESTED);
    }

    /// Sends a ping soon.
    pub fn ping(&self) {
        self.update(|s| s.ping = true);
    }

    /// Answers a client's ping soon.
    pub fn pong(&self, data: Bytes) {
        self.update(|s| s.pong = Some(data));
    }

    /// Closes with `code` after what is queued (or at once, dropping the queue, with
    /// `discard`). The first close requested wins, but a discarding one overrides.
    pub fn close(&self, code: u16, reason: Utf8Bytes, discard: bool) {
        self.update(|s| match &s.close {
            Some(first) if first.discard || !discard => {}
            _ => s.close = Some(CloseRequest { code, reason, discard }),
        });
    }

    /// The connection is over: write what is queued, then stop.
    pub fn finish(&self) {
        self.update(|s| s.finish = true);
    }

    /// Tells the connection's loop to end (waking it); `true` if this is the first stop
    /// (a later one changes nothing).
    pub fn stop(&self, stop: Stop) -> bool {
        let bit = match stop {
            Stop::Lagging => LAGGING,
            Stop::Shutdown => SHUTDOWN,
        };
        self.signals.raise_unless(bit | MAIN, LAGGING | SHUTDOWN)
    }

    /// What was requested since the writer last took the `REQUESTED` bit.
    fn take(&self) -> ControlState {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // `finish` stays set: it is the connection's end, not a request to take once.
        ControlState {
            ping: std::mem::take(&mut state.ping),
            pong: state.pong.take(),
            close: state.close.take(),
            finish: state.finish,
        }
    }
}

/// The `tracing` target of the message log, to filter it on its own
/// (`RUST_LOG=chanx::messages=info`).
const MESSAGES: &str = "chanx::messages";

/// The message log of a connection whose consumer has
/// [`Channel::LOG_MESSAGES`](crate::Channel::LOG_MESSAGES) on: one `info` event per
/// message, with its action but never its payload.
#[derive(Debug, Clone)]
pub(crate) struct MessageLog {
    channel: Arc<str>,
    ignored: &'static [&'static str],
}

impl MessageLog {
    /// The log of connection `channel`, leaving out the `ignored` actions.
    pub(crate) fn new(channel: &str, ignored: &'static [&'static str]) -> Self {
        MessageLog { channel: Arc::from(channel), ignored }
    }

    /// Logs an inbound message: the `message_id`-th of its connection, with its action
    /// and its `ref` as raw JSON.
    pub(crate) fn received(&self, message_id: u64, action: &str, reference: Option<&RawValue>) {
        if self.ignored.contains(&action) {
            return;
        }
        let reference = reference.and_then(frame::string);
        tracing::info!(
            target: MESSAGES,
            channel = &*self.channel,
            direction = "in",
            message_id,
            action = &*frame::clip(action),
            reference = reference.as_deref().map(frame::clip).as_deref(),
            "websocket message"
        );
    }

    /// Logs a frame written to the client.
    fn sent(&self, text: &str) {
        let heading = frame::heading(text);
        let (action, reference) = match &heading {
            Some(heading) if self.ignored.contains(&&*heading.action) => return,
            Some(heading) => {
                (Some(frame::clip(&heading.action)), heading.reference.as_deref().map(frame::clip))
            }
            None => (None, None),
        };
        tracing::info!(
            target: MESSAGES,
            channel = &*self.channel,
            direction = "out",
            action = action.as_deref(),
            reference = reference.as_deref(),
            "websocket message"
        );
    }
}

/// Written after each broadcast frame when completion is on.
static GROUP_COMPLETE: LazyLock<Utf8Bytes> = LazyLock::new(|| {
    frame::encode(&GroupCompleteMessage, Keys::default()).expect("a message without payload always encodes")
});

/// `frame` with camelCase keys (a camelizing connection's, see
/// [`Settings::camelize`](crate::Settings::camelize)); the same frame when no key
/// changes.
fn camelized(frame: Outgoing) -> Outgoing {
    let rename = |text: Utf8Bytes| match case::camelize_keys(text.as_str()) {
        Cow::Borrowed(_) => text,
        Cow::Owned(renamed) => Utf8Bytes::from(renamed),
    };
    match frame {
        Outgoing::Text(text) => Outgoing::Text(rename(text)),
        Outgoing::Broadcast(text) => Outgoing::Broadcast(rename(text)),
        other => other,
    }
}

/// The writer: owns the socket's sink, writes queued frames in batches, one flush per
/// batch, and the control lane's pings and close. Ends when the connection is over or
/// the client is gone; the queue is closed then, so that waiting senders fail.
///
/// With `camelize`, each text frame's keys are camelized here, the one place every
/// frame of the connection passes, after the fan-out: a broadcast is encoded once for
/// its whole group, and each member writes it in its own casing.
///
/// A state machine rather than an `async fn`: it lives as long as its connection, and
/// this way it holds only what it needs between polls (about 100 bytes, where the
/// `async` version held 400).
pub(crate) struct Writer<W> {
    sink: W,
    rx: QueueReceiver<Outgoing>,
    control: Arc<Control>,
    /// The control's signals, read on each poll.
    signals: Arc<Signals>,
    /// Taken from the queue (or the control lane), not yet fed to the sink, in order.
    /// An idle writer keeps no storage here.
    batch: VecDeque<Outgoing>,
    step: Step,
    completion: bool,
    camelize: bool,
    log: Option<MessageLog>,
}

/// Where the writer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for frames or a control request.
    Take,
    /// Feeding the batch to the sink; `last` once the connection is over.
    Feed {
        last: bool,
    },
    Flush {
        last: bool,
    },
    /// Flushing what the transport still owes (a close reply to a client that closed
    /// first) and closing the sink, errors ignored.
    Close,
    Done,
}

impl<W> Writer<W>
where
    W: Sink<Outgoing> + Unpin,
    W::Error: std::fmt::Display,
{
    pub(crate) fn new(
        sink: W,
        rx: QueueReceiver<Outgoing>,
        control: Arc<Control>,
        completion: bool,
        camelize: bool,
        log: Option<MessageLog>,
    ) -> Self {
        let (batch, signals) = (VecDeque::new(), control.signals().clone());
        Writer { sink, rx, control, signals, batch, step: Step::Take, completion, camelize, log }
    }

    /// Fills the batch: a ping and a pong first, then the queued frames; `None` while
    /// there is nothing to write. A discarding close replaces the queue (and the ping
    /// and pong); the end of the connection (finish, close, or every sender gone) takes
    /// everything queued.
    fn take(&mut self, cx: &mut Context<'_>) -> Option<Step> {
        // Nothing requested, most of the time: one load.
        let requested =
            if self.signals.take(REQUESTED) { self.control.take() } else { ControlState::default() };
        let ControlState { ping, pong, close, finish } = requested;
        if let Some(close) = close.as_ref().filter(|c| c.discard) {
            self.batch.clear();
            self.rx.close();
            self.batch.push_back(Outgoing::Close(close.code, close.reason.clone()));
            return Some(Step::Feed { last: true });
        }
        if ping {
            self.batch.push_back(Outgoing::Ping);
        }
        if let Some(data) = pong {
            self.batch.push_back(Outgoing::Pong(data));
        }
        let mut last = finish || close.is_some();
        if last {
            while let Some(frame) = self.rx.try_recv() {
                self.batch.push_back(frame);
            }
        } else if let Poll::Ready(received) = self.rx.poll_recv_many(cx, &mut self.batch) {
            last = received == 0;
        }
        if let Some(close) = close {
            self.batch.push_back(Outgoing::Close(close.code, close.reason));
        }
        if last || !self.batch.is_empty() {
            return Some(Step::Feed { last });
        }
        // Nothing to write: wait for a request too. (With frames to write, the writer
        // comes back here after them, and registers then.)
        self.poll_requested(cx).is_ready().then_some(Step::Take)
    }

    /// Ready once something was requested that the writer has not taken yet.
    fn poll_requested(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.signals.raised(REQUESTED) != 0 {
            return Poll::Ready(());
        }
        self.signals.register(cx.waker());
        if self.signals.raised(REQUESTED) != 0 { Poll::Ready(()) } else { Poll::Pending }
    }

    /// Feeds the batch to the sink, each broadcast followed by `group_complete` when
    /// completion is on.
    fn poll_feed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), W::Error>> {
        while !self.batch.is_empty() {
            ready!(self.sink.poll_ready_unpin(cx))?;
            let Some(frame) = self.batch.pop_front() else { break };
            let frame = if self.camelize { camelized(frame) } else { frame };
            if let Outgoing::Broadcast(_) = frame
                && self.completion
            {
                self.batch.push_front(Outgoing::Text(GROUP_COMPLETE.clone()));
            }
            if let (Some(log), Outgoing::Text(text) | Outgoing::Broadcast(text)) = (&self.log, &frame) {
                log.sent(text);
            }
            self.sink.start_send_unpin(frame)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<W> Future for Writer<W>
where
    W: Sink<Outgoing> + Unpin,
    W::Error: std::fmt::Display,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            let written = match this.step {
                Step::Take => match this.take(cx) {
                    Some(step) => {
                        this.step = step;
                        continue;
                    }
                    None => return Poll::Pending,
                },
                Step::Feed { last } => ready!(this.poll_feed(cx)).map(|()| Step::Flush { last }),
                Step::Flush { last } => ready!(this.sink.poll_flush_unpin(cx)).map(|()| {
                    // The emptied batch's storage goes back to the queue, which fills it
                    // again: no allocation per frame, and an idle connection keeps one
                    // small buffer at most.
                    this.rx.give_back(std::mem::take(&mut this.batch));
                    if last { Step::Close } else { Step::Take }
                }),
                Step::Close => {
                    this.rx.close();
                    // Also sends a close reply the transport owes a client that closed
                    // first.
                    let _ = ready!(this.sink.poll_flush_unpin(cx));
                    let _ = ready!(this.sink.poll_close_unpin(cx));
                    this.step = Step::Done;
                    return Poll::Ready(());
                }
                Step::Done => return Poll::Ready(()),
            };
            this.step = written.unwrap_or_else(|error| {
                tracing::debug!(%error, "write failed; the client is gone or closed");
                Step::Close
            });
        }
    }
}

impl<W> FusedFuture for Writer<W>
where
    W: Sink<Outgoing> + Unpin,
    W::Error: std::fmt::Display,
{
    fn is_terminated(&self) -> bool {
        self.step == Step::Done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::task::Waker;

    use super::*;
    use crate::wake::tests::Count;

    #[test]
    fn the_first_stop_wins_and_wakes_the_loop() {
        let (control, task) = (Control::default(), Arc::new(Count::default()));
        let signals = control.signals();
        assert!(signals.take(MAIN), "the loop's first poll goes through");
        signals.register(&Waker::from(task.clone()));
        assert_eq!(Stop::raised(signals), None);
        assert!(control.stop(Stop::Lagging));
        assert!(!control.stop(Stop::Shutdown), "a later stop changes nothing");
        assert_eq!(Stop::raised(signals), Some(Stop::Lagging));
        assert_eq!(task.0.load(Ordering::Relaxed), 1, "woken once, by the first stop");
        assert!(signals.take(MAIN), "for the loop");
    }
}
