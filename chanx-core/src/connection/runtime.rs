//! The connection loop: register with the channel layer, authenticate, join groups,
//! welcome, then handle client frames and server-side events one at a time, and
//! always run `on_disconnect` and leave every group. The heartbeat and the inbound
//! rate limit live here too. The socket's sending half is the [`Writer`]'s, which runs
//! in the connection's task beside the loop ([`alongside`](crate::wake::alongside)): a
//! reply is written in the turn that made it, without a wake-up.

use std::borrow::Cow;
use std::fmt::Display;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::future::{Either, FusedFuture};
use futures_util::{FutureExt, Sink, Stream, StreamExt};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tracing::Instrument;

use crate::connection::channel::Dispatch;
use crate::connection::consumer::{Consumer, Disconnect};
use crate::connection::context::{ConnectionInfo, Context, Sender};
use crate::heartbeat::Ticks;
use crate::layer::{Event, Inbox, LAGGING, LAGGING_REASON, Lagging};
use crate::log::{panic_text, throttled};
use crate::protocol::case;
use crate::protocol::frame::{self, Keys, RawPayload};
use crate::protocol::message::{CompleteMessage, ErrorMessage, ErrorPayload, EventCompleteMessage, Message};
use crate::protocol::validate::ErrorItem;
use crate::queue::{QueueReceiver, queue};
use crate::settings::{RateLimit, Settings};
use crate::stats::count;
use crate::transport::{Control, Incoming, MessageLog, Outgoing, Stop, Writer};
use crate::wake::{EVENTS, Gate, Signal, Signals, TICK, alongside};

mod topics;

use topics::Subscriptions;

/// Close codes the runtime sends.
const GOING_AWAY: u16 = 1001;
const POLICY_VIOLATION: u16 = 1008;
const TOO_BIG: u16 = 1009;
const INTERNAL_ERROR: u16 = 1011;
/// The close reason (with 1011) when the channel layer fails a connection's
/// registration or its static groups: Redis unreachable, say.
const LAYER_UNAVAILABLE: &str = "Channel layer unavailable";

/// What a connection's loop needs besides the consumer and the socket.
struct Connection<'a, C> {
    cx: Context,
    /// The consumer type this connection serves (its methods take the consumer).
    consumer: PhantomData<fn(&mut C)>,
    /// Server-side events: their frames and, for topic pushes, their topic. Only the
    /// inbox pushes here, and its pushes wake (no quiet sender): the loop polls the
    /// queue only after a wake-up.
    events: QueueReceiver<Event>,
    /// The topics this connection is subscribed to.
    topics: Subscriptions,
    /// On a standalone topic route, the topic that frames without `topic` are for.
    default_topic: Option<Arc<str>>,
    /// The writer's control lane.
    control: Arc<Control>,
    /// The connection's signals: its [`Stop`] (lagging, shutdown), events, ticks.
    signals: Arc<Signals>,
    completion: bool,
    /// Whether client payloads are decamelized before they are decoded
    /// ([`Settings::camelize`]); the writer camelizes what goes out.
    camelize: bool,
    settings: &'a Settings,
    rate: Option<Bucket>,
    /// When the client last sent anything, for the heartbeat.
    last_seen: Instant,
    /// The message log, when the consumer has `log_messages`.
    log: Option<MessageLog>,
    /// The inbound messages with an action so far, ignored actions included, while
    /// logging: the `message_id` of the last one.
    received: u64,
}

/// Serves one connection to its end.
///
/// Not an `async fn`: its arguments would be stored in its future next to the copies
/// the instrumented block below takes, for the connection's whole life. The returned
/// future is that block alone.
pub(crate) fn serve<'a, C, R, W>(
    mut consumer: C,
    info: Arc<ConnectionInfo>,
    mut reader: R,
    writer: W,
    control: Arc<Control>,
    settings: &'a Settings,
) -> impl Future<Output = ()> + Send + 'a
where
    C: Consumer,
    R: Stream<Item = Incoming> + Unpin + Send + 'a,
    W: Sink<Outgoing> + Unpin + Send + 'a,
    W::Error: Display + Send,
{
    let span = tracing::debug_span!(
        "connection",
        channel = %info.channel_name(),
        consumer = std::any::type_name::<C>()
    );
    let served = async move {
        let completion = C::SEND_COMPLETION.unwrap_or(settings.send_completion);
        let log = C::LOG_MESSAGES.then(|| MessageLog::new(info.channel_name(), C::LOG_IGNORED_ACTIONS));
        let (tx, rx) = queue(settings.outbound_buffer);
        let camelize = C::CAMELIZE.unwrap_or(settings.camelize);
        let mut write = pin!(Writer::new(writer, rx, control.clone(), completion, camelize, log.clone()));
        // The error is logged here, not kept: it would be stored for the connection's life.
        let (layer, unknown_layer) = match settings.layers.get(C::LAYER) {
            Ok(layer) => (layer, false),
            Err(error) => {
                tracing::error!(%error, "cannot serve this consumer");
                (settings.layers.default_layer(), true)
            }
        };
        let (events_tx, events) = queue(settings.event_buffer);
        let lagging = Arc::new(Lagging::new(control.clone(), settings.stats.clone()));
        let inbox =
            Inbox::new(tx.clone(), events_tx, lagging.clone(), settings.overflow, settings.stats.clone());
        // Quiet: what this task sends is written when the writer is polled after it.
        let sender = Sender::new(tx.quiet(), lagging.clone(), settings);
        let cx = Context::new(info, sender, control.clone(), layer, settings);
        let rate = settings.inbound_rate.map(Bucket::new);
        let signals = control.signals().clone();
        let mut connection = Connection {
            cx,
            consumer: PhantomData,
            events,
            topics: Subscriptions::new(C::TOPICS, settings),
            default_topic: None,
            control,
            signals: signals.clone(),
            completion,
            camelize,
            settings,
            rate,
            last_seen: Instant::now(),
            log,
            received: 0,
        };
        let main = async {
            let reason = if unknown_layer {
                connection.server_close(INTERNAL_ERROR, "Internal error")
            } else {
                connection.run(&mut consumer, inbox, &mut reader).await
            };
            tracing::debug!(?reason, "disconnected");
            // Boxed, like the opening: it runs once, at the end.
            Box::pin(end(connection, consumer, reason)).await
        };
        let server_closed = alongside(&signals, pin!(main), write.as_mut()).await;
        // The writer's last frames; a client that stopped reading cannot hold the
        // connection's task forever.
        if !write.is_terminated() && tokio::time::timeout(settings.close_timeout, write).await.is_err() {
            tracing::debug!("the client does not read; dropping the connection");
        } else if server_closed {
            linger(&mut reader, settings.close_timeout).await;
        }
    };
    // A span no subscriber wants is not entered at every poll.
    if span.is_disabled() { Either::Left(served) } else { Either::Right(served.instrument(span)) }
}

/// The end of a connection: its subscriptions, `on_disconnect`, its groups, then the
/// writer is told to finish. Whether the server closed it (then the client's close is
/// waited for once the writer is done).
async fn end<C: Consumer>(mut connection: Connection<'_, C>, mut consumer: C, reason: Disconnect) -> bool {
    let settings = connection.settings;
    connection.end_subscriptions().await;
    let Connection { mut cx, control, .. } = connection;
    // Bounded, like the rest of the ending: a hook that waits forever must not keep
    // the connection registered and in its groups.
    let hook = AssertUnwindSafe(consumer.on_disconnect(&mut cx, &reason)).catch_unwind();
    match tokio::time::timeout(settings.close_timeout, hook).await {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => throttled!(error, panic = panic_text(&panic), "on_disconnect panicked"),
        Err(_) => throttled!(warn, "on_disconnect did not finish within the close timeout"),
    }
    leave_all(&mut cx).await;
    control.finish();
    matches!(reason, Disconnect::ServerClosed { .. })
}

/// After the server's close frame, reads (and drops) until the client's close, so
/// that the close frame is not lost to a TCP reset of unread data.
async fn linger<R: Stream<Item = Incoming> + Unpin>(reader: &mut R, limit: Duration) {
    let until_close = async {
        while let Some(incoming) = reader.next().await {
            if matches!(incoming, Incoming::Close(_) | Incoming::Failed(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(limit, until_close).await;
}

/// Leaves every group and forgets the connection in the layer.
async fn leave_all(cx: &mut Context) {
    let groups = std::mem::take(&mut cx.groups);
    let (layer, channel) = (cx.layer().layer(), cx.channel_name());
    for group in groups {
        if let Err(error) = layer.group_discard(&group, channel).await {
            throttled!(warn, %error, group, "failed to leave a group");
        }
    }
    layer.unregister(channel).await;
}

/// What the connection loop woke up for.
enum Next {
    Event(Event),
    Frame(Option<Incoming>),
    /// A heartbeat tick, with the timeout to check.
    Beat(Duration),
}

/// Runs `step` to its end; if the connection must stop meanwhile (shutdown or
/// lagging), gives it `grace` more, then drops it (`None`).
///
/// `step` is pinned by the caller, so that it is stored once, in the caller's state (a
/// step taken by value and pinned here would be stored twice in this future: once as
/// the argument, once pinned).
async fn finish_or_stop<F: Future>(
    mut step: Pin<&mut F>,
    stopped: &mut (impl Future<Output = ()> + Unpin),
    grace: Duration,
) -> Option<F::Output> {
    tokio::select! {
        biased;
        output = &mut step => return Some(output),
        () = stopped => {}
    }
    tokio::time::timeout(grace, step).await.ok()
}

/// The inbound rate limit: a token bucket per connection.
#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    refilled: Instant,
    /// Frames dropped in a row.
    run: u32,
}

/// What the rate limit says of one inbound frame.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    Pass,
    /// Dropped; `first` of a run.
    Drop {
        first: bool,
    },
    /// The run is longer than the burst: close the connection.
    Close,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Bucket { limit, tokens: f64::from(limit.burst), refilled: Instant::now(), run: 0 }
    }

    fn admit(&mut self, now: Instant) -> Admission {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        let burst = f64::from(self.limit.burst);
        self.tokens = (self.tokens + elapsed * f64::from(self.limit.per_second)).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.run = 0;
            return Admission::Pass;
        }
        self.run += 1;
        if self.run > self.limit.burst { Admission::Close } else { Admission::Drop { first: self.run == 1 } }
    }
}

impl<C: Consumer> Connection<'_, C> {
    /// Runs the hooks and the receive loop; returns how the connection ended.
    ///
    /// Waiting for the next frame or event is abandoned at once when the connection
    /// must end; a running hook or handler is not: it gets
    /// [`Settings::close_timeout`] to finish (see the policy on [`Consumer`]).
    async fn run<R>(&mut self, consumer: &mut C, inbox: Inbox, reader: &mut R) -> Disconnect
    where
        R: Stream<Item = Incoming> + Unpin + Send,
    {
        // A stop raises its bit and wakes the loop (`Control::stop`).
        let grace = self.settings.close_timeout;
        let signals = self.signals.clone();
        let mut stopped =
            poll_fn(move |_| if Stop::raised(&signals).is_some() { Poll::Ready(()) } else { Poll::Pending });
        // Not a tokio timer: see `heartbeat`.
        let mut heartbeat = self
            .settings
            .heartbeat
            .map(|beat| (Ticks::new(beat.interval, Signal::new(&self.signals, TICK)), beat.timeout));
        // Events come from other tasks, whose pushes wake: gated, the queue is looked at
        // only after one did (or after an event, for the next one).
        let events = Gate::new(Signal::new(&self.signals, EVENTS));
        // Boxed: it runs once, and inline it would size the connection's future (held
        // for its whole life) for a step that is over once the client is welcomed.
        let mut open = Box::pin(self.open(consumer, inbox));
        let opened = finish_or_stop(open.as_mut(), &mut stopped, grace).await;
        drop(open);
        if let Some(reason) = opened.flatten() {
            return reason;
        }
        loop {
            // Checked first on every turn, so that a client flooding frames cannot
            // delay a shutdown or a lagging close.
            match Stop::raised(&self.signals) {
                None => {}
                Some(Stop::Shutdown) => return self.server_close(GOING_AWAY, "Server shutting down"),
                Some(Stop::Lagging) => {
                    throttled!(info, "buffer full: closing a client that does not keep up");
                    self.cx.close_with(LAGGING, LAGGING_REASON.into(), true);
                    return Disconnect::ServerClosed { code: LAGGING };
                }
            }
            // The writer is gone: the client cannot be written to any more, so the
            // frames it sent before it went are not handled.
            if self.cx.raw_sender().is_closed() {
                return Disconnect::Lost;
            }
            // One load of the signals on the turns where no tick is due.
            let beat = poll_fn(|cx| match &mut heartbeat {
                Some((ticks, timeout)) => ticks.poll_tick(cx).map(|()| *timeout),
                None => Poll::Pending,
            });
            // Events first: they were queued before the client frame that is now
            // waiting, so the answers come out in that order.
            let next = tokio::select! {
                biased;
                Some(event) = poll_fn(|_| events.poll(|cx| self.events.poll_recv(cx))) => Next::Event(event),
                incoming = reader.next() => Next::Frame(incoming),
                timeout = beat => Next::Beat(timeout),
                () = &mut stopped => continue,
            };
            // Inline: what is large in a step (a text's or an event's handling, with the
            // handler's future) is boxed inside it, so that the state every idle
            // connection holds stays small, and each allocation stays under 1 KiB, in the
            // allocator's per-thread cache (BENCHMARKS.md).
            let handled = finish_or_stop(pin!(self.handle(consumer, next)), &mut stopped, grace).await;
            if let Some(reason) = handled.flatten() {
                return reason;
            }
            if let Some(code) = self.cx.close_code {
                return Disconnect::ServerClosed { code };
            }
        }
    }

    /// Handles what the loop woke up for; `Some` when the connection ends.
    async fn handle(&mut self, consumer: &mut C, next: Next) -> Option<Disconnect> {
        match next {
            Next::Event(event) => {
                Box::pin(self.on_event(consumer, event)).await;
                None
            }
            Next::Frame(incoming) => self.on_incoming(consumer, incoming).await,
            Next::Beat(timeout) => {
                if self.last_seen.elapsed() >= timeout {
                    count(&self.settings.stats.heartbeat_timeouts);
                    throttled!(info, ?timeout, "heartbeat: nothing from the client; closing");
                    return Some(self.server_close(INTERNAL_ERROR, "Heartbeat timeout"));
                }
                self.control.ping();
                None
            }
        }
    }

    /// Registers with the layer, authenticates, joins the static groups and runs the
    /// welcome hook; `Some` when the connection ends there.
    async fn open(&mut self, consumer: &mut C, inbox: Inbox) -> Option<Disconnect> {
        let cx = &mut self.cx;
        if let Err(error) = cx.layer().layer().register(cx.channel_name(), inbox).await {
            throttled!(error, %error, "cannot register with the channel layer");
            return Some(self.server_close(INTERNAL_ERROR, LAYER_UNAVAILABLE));
        }
        match AssertUnwindSafe(consumer.authenticate(cx)).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                let code = refusal.close_code();
                throttled!(info, status = refusal.status_code(), "authentication refused");
                // If the client is already gone there is nobody to tell.
                let _ = cx.raw_sender().send_message(refusal.into_message()).await;
                return Some(self.server_close(code, "Authentication failed"));
            }
            Err(panic) => {
                throttled!(error, panic = panic_text(&panic), "authenticate panicked");
                return Some(self.server_close(INTERNAL_ERROR, "Internal error"));
            }
        }
        if let Some(code) = cx.close_code {
            return Some(Disconnect::ServerClosed { code });
        }
        for group in C::GROUPS {
            if let Err(error) = cx.join_group(*group).await {
                throttled!(error, %error, group, "cannot join a group");
                return Some(self.server_close(INTERNAL_ERROR, LAYER_UNAVAILABLE));
            }
        }
        let welcome = AssertUnwindSafe(consumer.post_authentication(cx)).catch_unwind().await;
        let failure = match welcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(panic) => Some(panic_text(&panic).to_owned()),
        };
        if let Some(failure) = failure {
            throttled!(error, error = failure, "post_authentication failed");
            return Some(self.server_close(INTERNAL_ERROR, "Internal error"));
        }
        self.send_own_copies().await;
        if let Some(code) = self.cx.close_code {
            return Some(Disconnect::ServerClosed { code });
        }
        if C::STANDALONE {
            return self.open_standalone().await;
        }
        None
    }

    /// Handles one client frame; `Some` when the connection ends.
    async fn on_incoming(&mut self, consumer: &mut C, incoming: Option<Incoming>) -> Option<Disconnect> {
        let Some(incoming) = incoming else { return Some(Disconnect::Lost) };
        let now = Instant::now();
        self.last_seen = now;
        if matches!(incoming, Incoming::Text(_) | Incoming::Binary | Incoming::Control | Incoming::Ping(_))
            && let Some(rate) = &mut self.rate
        {
            match rate.admit(now) {
                Admission::Pass => {}
                Admission::Drop { first } => {
                    count(&self.settings.stats.rate_limited);
                    if first {
                        throttled!(info, "inbound rate limit: dropping frames");
                        let limit = rate.limit.per_second;
                        let msg =
                            format!("Too many messages: at most {limit} per second; this one was dropped");
                        let error = ErrorMessage::validation(vec![ErrorItem::frame("rate_limited", msg)]);
                        Box::pin(send(&self.cx, &error, Keys::default())).await;
                    }
                    return None;
                }
                Admission::Close => {
                    count(&self.settings.stats.rate_limit_closes);
                    throttled!(info, "inbound rate limit exceeded for too long; closing");
                    return Some(self.server_close(POLICY_VIOLATION, "Rate limit exceeded"));
                }
            }
        }
        match incoming {
            Incoming::Text(text) => {
                Box::pin(self.on_text(consumer, &text)).await;
                if !self.cx.own_copies.is_empty() {
                    Box::pin(self.send_own_copies()).await;
                }
            }
            Incoming::Binary => {
                let error = ErrorItem::frame("json_invalid", "Invalid JSON: binary frames are not supported");
                Box::pin(send(&self.cx, &ErrorMessage::validation(vec![error]), Keys::default())).await;
            }
            Incoming::Control => {}
            // Answered through the queue so that the pong follows earlier replies.
            Incoming::Ping(data) => {
                let _ = Box::pin(self.cx.raw_sender().send_frame(Outgoing::Pong(data))).await;
            }
            Incoming::Close(code) => return Some(Disconnect::ClientClosed { code }),
            Incoming::TooBig => {
                let limit = self.settings.max_message_size;
                count(&self.settings.stats.too_big);
                throttled!(info, limit, "frame over the size limit");
                let reason = format!("Message too big: the limit is {limit} bytes");
                return Some(self.server_close(TOO_BIG, reason));
            }
            Incoming::Failed(error) => {
                tracing::debug!(%error, "connection lost");
                return Some(Disconnect::Lost);
            }
            Incoming::Invalid(code, error) => {
                tracing::debug!(%error, "protocol violation");
                return Some(self.server_close(code, error));
            }
        }
        None
    }

    /// Handles one text frame: decode, dispatch (to the consumer or to a topic),
    /// answer, complete.
    async fn on_text(&mut self, consumer: &mut C, text: &str) {
        // The usual frame, `{"action": ..., "payload": ...}` for one of the consumer's
        // handlers: its payload is decoded without the envelope parsed first. Anything
        // else (an unknown action, a payload that does not decode) is parsed in full
        // below, so that every frame gets the errors it always got.
        if self.default_topic.is_none()
            && !self.camelize
            && self.log.is_none()
            && let Some((action, payload)) = frame::canonical(text)
        {
            let cx = &mut self.cx;
            let dispatched =
                AssertUnwindSafe(consumer.dispatch(cx, action, Some(payload))).catch_unwind().await;
            if !matches!(dispatched, Ok(Dispatch::Unknown | Dispatch::Unchecked)) {
                let outcome = settle(cx, action, C::ACTIONS, dispatched).await;
                return self.answered(outcome).await;
            }
        }
        let envelope = match frame::parse(text) {
            Ok(envelope) => envelope,
            Err(errors) => return send(&self.cx, &ErrorMessage::validation(errors), Keys::default()).await,
        };
        // A subscribed topic's frames share its name; only other names are copied.
        let topic = match envelope.topic.as_deref() {
            Some(name) => Some(self.topics.name(name).unwrap_or_else(|| Arc::from(name))),
            None => self.default_topic.clone(),
        };
        let expected = match &topic {
            None => C::ACTIONS,
            Some(topic) => self.topics.actions(topic),
        };
        self.cx.reference = envelope.reference.map(|r| Box::from(r.get()));
        self.cx.topic = topic.clone();
        let decamelized = match envelope.payload {
            Some(payload) if self.camelize => match case::decamelize_keys(payload.get()) {
                Cow::Borrowed(_) => None,
                Cow::Owned(renamed) => Some(renamed),
            },
            _ => None,
        };
        // The payload was valid JSON, and renaming keys keeps it so.
        let payload = decamelized.as_deref().map(RawPayload::checked).or(envelope.payload);
        let outcome = match frame::action(&envelope, expected) {
            // A frame for a topic not subscribed to is refused as such, action or not.
            Err(_) if topic.as_ref().is_some_and(|topic| !self.topics.contains(topic)) => {
                Box::pin(self.not_subscribed()).await;
                Ok(())
            }
            Err(error) => Err(vec![error]),
            Ok(action) => {
                if let Some(log) = &self.log {
                    self.received += 1;
                    log.received(self.received, &action, envelope.reference);
                }
                match &topic {
                    None => {
                        let cx = &mut self.cx;
                        let dispatched =
                            AssertUnwindSafe(consumer.dispatch(cx, &action, payload)).catch_unwind().await;
                        settle(cx, &action, C::ACTIONS, dispatched).await
                    }
                    // Boxed: inline, it would size every text's future (which is
                    // allocated per frame) past the allocator's per-thread cache.
                    Some(topic) => Box::pin(self.on_topic_action(topic, &action, payload)).await,
                }
            }
        };
        self.answered(outcome).await;
    }

    /// After a text's handling: its errors, if any, then `complete`.
    async fn answered(&mut self, outcome: Result<(), Vec<ErrorItem>>) {
        if let Err(errors) = outcome {
            send(&self.cx, &ErrorMessage::validation(errors), self.cx.keys()).await;
        }
        if self.completion {
            send(&self.cx, &CompleteMessage, self.cx.keys()).await;
        }
        self.cx.reference = None;
        self.cx.topic = None;
    }

    /// Handles one server-side event: its handler's reply, or the event itself for a
    /// passthrough event, then `event_complete`. Nothing goes out for an event no
    /// handler takes, nor for a topic push to a topic this connection has left.
    async fn on_event(&mut self, consumer: &mut C, event: Event) {
        let topic = match &event.topic {
            None => None,
            Some(stamp) => match self.topics.name(&stamp.name) {
                Some(name) => Some(name),
                None => {
                    return tracing::debug!(topic = %stamp.name, "push to a topic left meanwhile; dropped");
                }
            },
        };
        self.cx.seq = event.topic.as_ref().and_then(|stamp| stamp.seq);
        self.cx.topic = topic;
        let handled = self.handle_event(consumer, &event.frame).await;
        if handled && self.completion {
            send(&self.cx, &EventCompleteMessage, self.cx.keys()).await;
        }
        self.cx.topic = None;
        self.cx.seq = None;
        self.send_own_copies().await;
    }

    /// Runs the event handler of the consumer, or of the topic in `cx.topic`; `false`
    /// when no handler took the event.
    async fn handle_event(&mut self, consumer: &mut C, frame: &Utf8Bytes) -> bool {
        // Events are encoded by `LayerMessage::encode`, so these only fail for a layer
        // implementation that corrupts frames.
        let envelope = match frame::parse(frame.as_str()) {
            Ok(envelope) => envelope,
            Err(errors) => {
                throttled!(error, ?errors, "malformed event dropped");
                return false;
            }
        };
        let action = match frame::action(&envelope, &[]) {
            Ok(action) => action,
            Err(error) => {
                throttled!(error, error = error.msg, "event without an action dropped");
                return false;
            }
        };
        let cx = &mut self.cx;
        let dispatched = match cx.topic.clone() {
            None => {
                AssertUnwindSafe(consumer.dispatch_event(cx, &action, envelope.payload)).catch_unwind().await
            }
            Some(topic) => self.topics.dispatch_event(cx, &topic, &action, envelope.payload).await,
        };
        match dispatched {
            Ok(Dispatch::Done) => {}
            Ok(Dispatch::Passthrough) => {
                let frame = match cx.topic {
                    None => Some(frame.clone()),
                    Some(_) => frame::stamp(frame.as_str(), cx.keys()),
                };
                if let Some(frame) = frame {
                    let _ = cx.raw_sender().send_frame(Outgoing::Text(frame)).await;
                }
            }
            Ok(Dispatch::Unknown) => {
                throttled!(warn, %action, "no handler for this event; dropped");
                return false;
            }
            Ok(Dispatch::Invalid(errors)) => {
                throttled!(error, %action, ?errors, "event payload does not match its type")
            }
            Ok(Dispatch::Unchecked) => throttled!(error, %action, "event payload is not JSON"),
            Ok(Dispatch::Failed(error)) => {
                throttled!(error, %action, %error, "event handler failed")
            }
            Err(panic) => {
                throttled!(error, %action, panic = panic_text(&panic), "event handler panicked")
            }
        }
        true
    }

    /// Queues this connection's own copies of what it broadcast during the last step.
    async fn send_own_copies(&mut self) {
        for frame in std::mem::take(&mut self.cx.own_copies) {
            let _ = self.cx.raw_sender().send_frame(Outgoing::Broadcast(frame)).await;
        }
    }

    /// Closes the connection after what is queued; the close never waits for room in
    /// the queue, and a client that does not read is dropped after the close timeout.
    fn server_close(&mut self, code: u16, reason: impl Into<String>) -> Disconnect {
        self.cx.close_with(code, reason.into(), false);
        Disconnect::ServerClosed { code }
    }
}

/// What a handler's outcome means for the client: nothing more, or the errors that
/// replace its answer. A failure is logged and answered here.
async fn settle(
    cx: &Context,
    action: &str,
    expected: &[&str],
    dispatched: std::thread::Result<Dispatch>,
) -> Result<(), Vec<ErrorItem>> {
    match dispatched {
        Ok(Dispatch::Done | Dispatch::Passthrough) => Ok(()),
        Ok(Dispatch::Unknown) => Err(vec![frame::unknown_action(action, expected)]),
        Ok(Dispatch::Invalid(errors)) => Err(errors),
        // Only a payload read by `frame::canonical` is unchecked, and its frame is then
        // parsed in full instead.
        Ok(Dispatch::Unchecked) => Err(vec![ErrorItem::frame("json_invalid", "Invalid JSON")]),
        // Its reply could not be sent: the client is gone, nothing to report.
        Ok(Dispatch::Failed(_)) if cx.raw_sender().is_closed() => Ok(()),
        Ok(Dispatch::Failed(error)) => {
            throttled!(error, %action, %error, "handler failed");
            Box::pin(send_failure(cx, action)).await;
            Ok(())
        }
        Err(panic) => {
            throttled!(error, %action, panic = panic_text(&panic), "handler panicked");
            Box::pin(send_failure(cx, action)).await;
            Ok(())
        }
    }
}

async fn send_failure(cx: &Context, action: &str) {
    let detail = format!("Failed to process message for {}", frame::clip(action));
    send(cx, &ErrorMessage { payload: ErrorPayload::Failure { detail } }, cx.keys()).await;
}

/// Sends a framework message; a closed connection has nobody to read it, so it is dropped.
async fn send<M: Message>(cx: &Context, message: &M, keys: Keys<'_>) {
    match frame::encode(message, keys) {
        Ok(text) => {
            let _ = cx.raw_sender().send_frame(Outgoing::Text(text)).await;
        }
        Err(error) => throttled!(error, %error, action = M::ACTION, "failed to encode a framework frame"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_passes_a_burst_refills_and_closes_a_long_run() {
        let start = Instant::now();
        let mut bucket = Bucket::new(RateLimit { per_second: 10, burst: 3 });
        bucket.refilled = start;
        for _ in 0..3 {
            assert_eq!(bucket.admit(start), Admission::Pass);
        }
        assert_eq!(bucket.admit(start), Admission::Drop { first: true });
        assert_eq!(bucket.admit(start), Admission::Drop { first: false });
        // A tenth of a second later, one frame's worth is back, and the run ends.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.admit(later), Admission::Pass);
        assert_eq!(bucket.admit(later), Admission::Drop { first: true });
        assert_eq!(bucket.admit(later), Admission::Drop { first: false });
        assert_eq!(bucket.admit(later), Admission::Drop { first: false });
        assert_eq!(bucket.admit(later), Admission::Close, "a run longer than the burst");
    }
}
