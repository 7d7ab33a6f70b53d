//! What `#[channel]` generates against: the [`Channel`] trait, the AsyncAPI metadata
//! types, payload decoding and reply handling.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;

use serde::de::IntoDeserializer;

use crate::connection::context::Context;
use crate::connection::topic::TopicType;
use crate::protocol::frame::RawPayload;
use crate::protocol::message::{AsSerde, Message, MessageMeta, Payload};
use crate::protocol::validate::{ErrorItem, validate_payload};

/// A consumer's routing table and metadata. Implemented by `#[channel]`; never by hand.
pub trait Channel: Sized + Send + 'static {
    /// The actions this consumer handles, in handler order: its own, then those of
    /// each mixin (`#[channel(mixins(...))]`) in turn.
    const ACTIONS: &'static [&'static str];

    /// Groups every connection joins when it opens (`#[channel(groups(...))]`, then
    /// the groups of each mixin).
    const GROUPS: &'static [&'static str];

    /// The alias of the channel layer this consumer uses (`#[channel(layer = ...)]`);
    /// `None` for the app's default layer.
    const LAYER: Option<&'static str>;

    /// Whether this consumer logs its messages (`#[channel(log_messages)]`), as Chanx's
    /// `log_websocket_message`. Off by default.
    ///
    /// When on, every inbound frame whose action could be read is logged once parsed,
    /// before its handler runs, and every frame the connection writes to its client is
    /// logged as it goes on the socket: replies, error and completion frames (`complete`,
    /// `group_complete`, `event_complete`), broadcasts and passthrough events, and what
    /// hooks or spawned tasks send. One `tracing` event at `info` level per frame, with
    /// the target `chanx::messages` (`RUST_LOG=chanx::messages=info` shows only these) and
    /// the fields `channel` (the connection's channel name), `direction` (`"in"` or
    /// `"out"`), `action`, `reference` (the frame's `ref`, if any: a reply echoes the
    /// `ref` of its request) and, inbound, `message_id` (1, 2, ... per connection, ignored
    /// actions counted). Payloads are never logged: they may hold credentials or
    /// personal data. Actions and references are cut to 64 bytes, as error frames quote
    /// client input. Pings, pongs and close frames of the WebSocket protocol are not
    /// messages and are not logged; frames dropped by an overflow close are not either.
    ///
    /// Off, nothing is parsed or allocated for it: one check of a `None` per frame.
    const LOG_MESSAGES: bool = false;

    /// Actions left out of the message log in both directions
    /// (`#[channel(log_messages, log_ignored_actions("ping", "pong"))]`), as Chanx's
    /// `log_ignored_actions`. Only read when [`LOG_MESSAGES`](Channel::LOG_MESSAGES) is on.
    const LOG_IGNORED_ACTIONS: &'static [&'static str] = &[];

    /// Whether this consumer's connections put camelCase keys on the wire
    /// (`#[channel(camelize)]`, `#[channel(camelize = false)]`), as Chanx's `camelize`
    /// consumer attribute; `None` follows the app's
    /// [`Settings::camelize`](crate::Settings::camelize). The topics subscribed over the
    /// connection follow it too.
    const CAMELIZE: Option<bool> = None;

    /// The topic types a client may subscribe to over this consumer's socket
    /// (`#[channel(topics(RoomTopic, PresenceTopic))]`), in declaration order.
    const TOPICS: &'static [TopicType] = &[];

    /// Whether this consumer serves one topic on a route of its own
    /// ([`Standalone`](crate::Standalone)): it subscribes as the connection opens, and
    /// frames without `topic` go to that subscription.
    const STANDALONE: bool = false;

    /// AsyncAPI metadata of the channel and its operations.
    fn meta() -> ChannelMeta;

    /// Decodes `payload` for `action` and runs its handler.
    fn dispatch<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> impl Future<Output = Dispatch> + Send + 'a;

    /// Decodes a server-side event for `action` and runs its `#[event_handler]`, or
    /// says that it passes through to the client.
    fn dispatch_event<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> impl Future<Output = Dispatch> + Send + 'a;
}

/// Metadata of a consumer: the AsyncAPI channel.
#[derive(Debug, Clone)]
pub struct ChannelMeta {
    /// Channel name (`#[channel(name = ...)]`).
    pub name: &'static str,
    /// Rust type name of the consumer.
    pub type_name: &'static str,
    /// Channel description (attribute or doc comment).
    pub description: Option<&'static str>,
    /// Channel tags.
    pub tags: &'static [&'static str],
    /// Groups joined on connect.
    pub groups: &'static [&'static str],
    /// Alias of the channel layer (`None`: the default layer).
    pub layer: Option<&'static str>,
    /// Where clients send their credentials (`#[channel(credentials(...))]`), in
    /// declaration order; any one of them is enough. Documentation only: checking them
    /// is up to [`Consumer::authenticate`](crate::Consumer::authenticate) or
    /// [`FromConnection`](crate::FromConnection).
    pub credentials: &'static [Credential],
    /// One `receive` operation per `#[ws_handler]`, in declaration order: the
    /// consumer's, then each mixin's.
    pub operations: Vec<OperationMeta>,
    /// One `send` operation per `#[event_handler]` (the consumer's, then each
    /// mixin's): its input is the event, its outputs what reaches the client.
    pub events: Vec<OperationMeta>,
    /// Events forwarded to the client unchanged (the consumer's, then each mixin's).
    pub passthrough: Vec<MessageMeta>,
    /// Messages the hooks send (`#[channel(sends(...))]`), such as a welcome, then
    /// those of each mixin (`#[mixin(sends(...))]`).
    pub sends: Vec<MessageMeta>,
}

/// A credential a consumer accepts on the WebSocket handshake, as Chanx's `Credential`:
/// its name, where it travels and what it is. Declared with
/// `#[channel(credentials(...))]`; the AsyncAPI document turns each into an
/// `httpApiKey` security scheme that the channel's operations list under `security`,
/// and documents the query and header ones in the channel's `ws` bindings.
///
/// ```
/// use chanx::asyncapi::AsyncApi;
/// use chanx::prelude::*;
/// use chanx::{Channel, Credential, CredentialLocation};
/// use serde_json::json;
///
/// #[derive(Default)]
/// pub struct SecureConsumer;
///
/// #[channel(name = "secure", credentials(query("token", "Access token"), cookie("sessionid")))]
/// impl SecureConsumer {
///     #[ws_handler]
///     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
///
/// impl Consumer for SecureConsumer {}
///
/// let token = CredentialLocation::Query;
/// let token = Credential { name: "token", location: token, description: Some("Access token") };
/// assert_eq!(SecureConsumer::meta().credentials[0], token);
///
/// let document = AsyncApi::new().channel::<SecureConsumer>("/ws/secure").document().unwrap();
/// assert_eq!(
///     document["components"]["securitySchemes"]["query_token"],
///     json!({ "type": "httpApiKey", "name": "token", "in": "query", "description": "Access token" })
/// );
/// assert_eq!(
///     document["operations"]["secure.ping"]["security"],
///     json!([
///         { "$ref": "#/components/securitySchemes/query_token" },
///         { "$ref": "#/components/securitySchemes/cookie_sessionid" },
///     ])
/// );
/// assert_eq!(
///     document["channels"]["secure"]["bindings"]["ws"]["query"]["properties"]["token"],
///     json!({ "type": "string", "description": "Access token" })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credential {
    /// The query parameter, header or cookie name (`token`, `Authorization`).
    pub name: &'static str,
    /// Where the client sends it.
    pub location: CredentialLocation,
    /// What it is (`Access token`), if said.
    pub description: Option<&'static str>,
}

impl Credential {
    /// The name of its AsyncAPI security scheme, as Chanx names it:
    /// `<location>_<name>`, lowercase, `-` as `_` (`header_x_api_key`).
    pub fn scheme_name(&self) -> String {
        format!("{}_{}", self.location.as_str(), self.name).to_lowercase().replace('-', "_")
    }
}

/// Where a [`Credential`] travels on the handshake request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialLocation {
    /// A query parameter of the WebSocket URL (`?token=...`): browsers can send it.
    Query,
    /// A request header (`Authorization`): browsers' `WebSocket` cannot set one.
    Header,
    /// A cookie, sent by browsers on their own.
    Cookie,
}

impl CredentialLocation {
    /// The AsyncAPI `in` value: `query`, `header` or `cookie`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialLocation::Query => "query",
            CredentialLocation::Header => "header",
            CredentialLocation::Cookie => "cookie",
        }
    }
}

/// Metadata of one `#[ws_handler]` (an AsyncAPI `receive` operation) or
/// `#[event_handler]` (a `send` operation).
#[derive(Debug, Clone)]
pub struct OperationMeta {
    /// Method name of the handler.
    pub handler: &'static str,
    /// Short summary.
    pub summary: Option<&'static str>,
    /// Longer description (attribute or doc comment).
    pub description: Option<&'static str>,
    /// Operation tags.
    pub tags: &'static [&'static str],
    /// The message the handler receives.
    pub input: MessageMeta,
    /// The messages it replies with (to the sender).
    pub outputs: Vec<MessageMeta>,
    /// The messages it broadcasts to groups (`broadcasts(...)`).
    pub broadcasts: Vec<MessageMeta>,
}

/// How the handling of one frame ended.
#[doc(hidden)]
#[derive(Debug)]
pub enum Dispatch {
    /// The handler ran and its reply, if any, was queued.
    Done,
    /// No handler for this action.
    Unknown,
    /// The payload did not validate.
    Invalid(Vec<ErrorItem>),
    /// The handler returned `Err` (or its reply could not be sent).
    Failed(HandlerError),
    /// A passthrough event: forward its frame to the client unchanged.
    Passthrough,
    /// The payload did not decode, and is not known to be JSON: the frame is to be
    /// parsed in full, for the errors that answer it.
    Unchecked,
}

/// Decodes the payload of a frame into `M`, or lists every validation error
/// ([`Dispatch::Unchecked`] instead for a payload not known to be JSON).
#[doc(hidden)]
pub fn decode<M: Message>(payload: Option<RawPayload<'_>>) -> Result<M, Dispatch> {
    let raw = payload.map(RawPayload::get);
    let decoded = match raw {
        Some(text) => serde_json::from_str::<AsSerde<M::Payload>>(text).map(|payload| payload.0),
        None => M::Payload::deserialize_payload(().into_deserializer())
            .map_err(|e: serde::de::value::Error| <serde_json::Error as serde::de::Error>::custom(e)),
    };
    match decoded {
        // serde reads a struct from an array too; only the schema can tell whether an
        // array is welcome.
        Ok(payload) if !raw.is_some_and(|text| text.starts_with('[')) => Ok(M::from_payload(payload)),
        _ if payload.is_some_and(|payload| !payload.is_checked()) => Err(Dispatch::Unchecked),
        Ok(_) | Err(_) => validate_payload::<M>(raw).map(M::from_payload).map_err(Dispatch::Invalid),
    }
}

/// Sends what a handler returned and says how the handling ended:
/// `(&&Replier::<R>::NEW).reply(cx, returned)`. As with [`Outputs`], a return type
/// that is no reply falls back to [`NoReply`], so that the only compile error is the
/// one of [`assert_reply`], on the handler's return type.
#[doc(hidden)]
pub struct Replier<R>(PhantomData<fn() -> R>);

impl<R> Replier<R> {
    /// The reply step for return type `R`.
    pub const NEW: Self = Replier(PhantomData);
}

/// The reply step of a valid reply type.
#[doc(hidden)]
pub trait Reply<R> {
    /// Sends the reply; a handler `Err` becomes [`Dispatch::Failed`].
    fn reply(&self, cx: &mut Context, returned: R) -> impl Future<Output = Dispatch> + Send;
}

impl<R: IntoReply> Reply<R> for &Replier<R> {
    async fn reply(&self, cx: &mut Context, returned: R) -> Dispatch {
        match returned.send(cx).await {
            Ok(()) => Dispatch::Done,
            Err(failure) => Dispatch::Failed(failure),
        }
    }
}

/// The fallback for a type that is no reply (a compile error, see [`assert_reply`]).
#[doc(hidden)]
pub trait NoReply<R> {
    /// Never runs: the crate does not compile when this is chosen.
    fn reply(&self, _cx: &mut Context, _returned: R) -> std::future::Ready<Dispatch> {
        std::future::ready(Dispatch::Done)
    }
}

impl<R> NoReply<R> for Replier<R> {}

/// The one compile-time check of a handler's return type.
#[doc(hidden)]
pub const fn assert_reply<R: IntoReply>() {}

/// The messages a handler's return type `R` carries, for the metadata:
/// `(&&Outputs::<R>::NEW).reply_outputs()`. Method resolution picks
/// [`ReplyOutputs`] when `R: IntoReply` and falls back to [`NoReplyOutputs`]
/// otherwise, so a bad return type gives one compile error (from the dispatch code),
/// not two.
#[doc(hidden)]
pub struct Outputs<R>(PhantomData<fn() -> R>);

impl<R> Outputs<R> {
    /// The probe for return type `R`.
    pub const NEW: Self = Outputs(PhantomData);
}

/// The outputs of a valid reply type.
#[doc(hidden)]
pub trait ReplyOutputs {
    /// The messages the reply type carries.
    fn reply_outputs(&self) -> Vec<MessageMeta>;
}

impl<R: IntoReply> ReplyOutputs for &Outputs<R> {
    fn reply_outputs(&self) -> Vec<MessageMeta> {
        let mut outputs = Vec::new();
        R::outputs(&mut outputs);
        outputs
    }
}

/// The fallback for a type that is no reply (already a compile error elsewhere).
#[doc(hidden)]
pub trait NoReplyOutputs {
    /// Nothing.
    fn reply_outputs(&self) -> Vec<MessageMeta> {
        Vec::new()
    }
}

impl<R> NoReplyOutputs for Outputs<R> {}

/// Whether two handlers' messages share their action: the type
/// `SameAction<{ str_eq(<A as Message>::ACTION, <B as Message>::ACTION) }>` in the
/// check that `#[channel]` generates for each pair of handlers.
#[doc(hidden)]
pub struct SameAction<const SAME: bool>;

/// Holds when two handlers receive messages with different actions. `#[channel]`
/// requires it of `SameAction<..>` for every pair of handlers, with the handlers'
/// names as marker types: a duplicate is one error that names both handlers.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "two handlers for one action: `{FirstHandler}` receives `{First}` and `{SecondHandler}` receives `{Second}`, whose `action` is the same",
    label = "same `action` as `{First}`",
    note = "remove one of the two handlers, or give `{Second}` another `action`"
)]
pub trait DistinctActions<First, Second, FirstHandler, SecondHandler> {}

impl<First, Second, FirstHandler, SecondHandler> DistinctActions<First, Second, FirstHandler, SecondHandler>
    for SameAction<false>
{
}

/// The duplicate-action check of one pair of handlers (see [`DistinctActions`]).
#[doc(hidden)]
pub const fn assert_distinct_actions<T, First, Second, FirstHandler, SecondHandler>()
where
    T: DistinctActions<First, Second, FirstHandler, SecondHandler>,
{
}

/// `const` string equality, for the generated duplicate-action check.
#[doc(hidden)]
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// What a `#[ws_handler]` may return: a message (sent to the client as the reply),
/// `Option` of a message, `()` (nothing to send), or `Result<_, E>` of those, where
/// an `Err` becomes the error frame `Failed to process message for <action>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a `#[ws_handler]`",
    label = "not a handler reply",
    note = "return a message, `Option<M>`, `()`, or `Result<_, E>` of those, where `E: Display`"
)]
pub trait IntoReply: Send {
    /// Sends the reply through the connection, or returns the handler's error.
    fn send(self, cx: &mut Context) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Appends the messages this type carries, for the metadata.
    fn outputs(outputs: &mut Vec<MessageMeta>);
}

/// A handler's `Err`, kept as text for the log; never sent to the client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(String);

impl HandlerError {
    /// A failure described by `error`, for [`IntoReply`] implementations.
    pub fn new(error: impl Display) -> Self {
        HandlerError(error.to_string())
    }
}

impl<M: Message> IntoReply for M {
    async fn send(self, cx: &mut Context) -> Result<(), HandlerError> {
        cx.send_message(self).await.map_err(HandlerError::new)
    }

    fn outputs(outputs: &mut Vec<MessageMeta>) {
        outputs.push(M::meta());
    }
}

impl IntoReply for () {
    async fn send(self, _cx: &mut Context) -> Result<(), HandlerError> {
        Ok(())
    }

    fn outputs(_outputs: &mut Vec<MessageMeta>) {}
}

impl<M: Message> IntoReply for Option<M> {
    async fn send(self, cx: &mut Context) -> Result<(), HandlerError> {
        match self {
            Some(message) => message.send(cx).await,
            None => Ok(()),
        }
    }

    fn outputs(outputs: &mut Vec<MessageMeta>) {
        M::outputs(outputs);
    }
}

impl<T: IntoReply, E: Display + Send> IntoReply for Result<T, E> {
    async fn send(self, cx: &mut Context) -> Result<(), HandlerError> {
        match self {
            Ok(reply) => reply.send(cx).await,
            Err(error) => Err(HandlerError::new(error)),
        }
    }

    fn outputs(outputs: &mut Vec<MessageMeta>) {
        T::outputs(outputs);
    }
}

/// The actions of `parts`, one after the other: the `ACTIONS` (or `GROUPS`) of a
/// consumer with mixins, its own first. `N` is [`total_len`] of `parts`.
#[doc(hidden)]
pub const fn concat_actions<const N: usize>(parts: &[&[&'static str]]) -> [&'static str; N] {
    let mut all = [""; N];
    let (mut at, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            all[at] = parts[part][i];
            at += 1;
            i += 1;
        }
        part += 1;
    }
    assert!(at == N, "concat_actions: N is not the total length of the parts");
    all
}

/// How many strings `parts` hold together, for [`concat_actions`].
#[doc(hidden)]
pub const fn total_len(parts: &[&[&str]]) -> usize {
    let (mut total, mut part) = (0, 0);
    while part < parts.len() {
        total += parts[part].len();
        part += 1;
    }
    total
}

/// How many distinct strings `parts` hold together, for [`concat_distinct`].
#[doc(hidden)]
pub const fn distinct_len(parts: &[&[&str]]) -> usize {
    let (mut count, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            if !seen_before(parts, part, i) {
                count += 1;
            }
            i += 1;
        }
        part += 1;
    }
    count
}

/// Whether `parts[part][i]` appears earlier in `parts`.
const fn seen_before(parts: &[&[&str]], part: usize, i: usize) -> bool {
    let mut p = 0;
    while p <= part {
        let end = if p == part { i } else { parts[p].len() };
        let mut j = 0;
        while j < end {
            if str_eq(parts[p][j], parts[part][i]) {
                return true;
            }
            j += 1;
        }
        p += 1;
    }
    false
}

/// The strings of `parts`, one after the other, each once (its first occurrence):
/// the `GROUPS` of a consumer with mixins, its own first, as Chanx merges the
/// `groups` of a consumer's classes. `N` is [`distinct_len`] of `parts`.
#[doc(hidden)]
pub const fn concat_distinct<const N: usize>(parts: &[&[&'static str]]) -> [&'static str; N] {
    let mut all = [""; N];
    let (mut at, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            if !seen_before(parts, part, i) {
                all[at] = parts[part][i];
                at += 1;
            }
            i += 1;
        }
        part += 1;
    }
    assert!(at == N, "concat_distinct: N is not the number of distinct strings");
    all
}

/// Whether `list` holds `action`, for the duplicate-action check of a consumer's
/// handler against one of its mixins.
#[doc(hidden)]
pub const fn contains_action(list: &[&str], action: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], action) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether two lists of actions share one, for the duplicate-action check of two
/// mixins of one consumer.
#[doc(hidden)]
pub const fn actions_overlap(a: &[&str], b: &[&str]) -> bool {
    let mut i = 0;
    while i < a.len() {
        if contains_action(b, a[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// Holds when a consumer's `#[ws_handler]` takes a message whose action none of the
/// `#[ws_handler]`s of one of its mixins takes. `#[channel(mixins(...))]` requires it
/// of `SameAction<..>` for each pair of a handler and a mixin.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "two handlers for one action: `{Handler}` receives `{Message}`, and the mixin `{Mixin}` has a `#[ws_handler]` for the same `action`",
    label = "`{Mixin}` also handles the action of `{Message}`",
    note = "remove `{Handler}` (the mixin's handler then answers), give `{Message}` another `action`, or leave `{Mixin}` out of `mixins(...)`"
)]
pub trait NotInMixin<Message, Handler, Mixin> {}

impl<Message, Handler, Mixin> NotInMixin<Message, Handler, Mixin> for SameAction<false> {}

/// The check of one consumer handler against one mixin (see [`NotInMixin`]).
#[doc(hidden)]
pub const fn assert_not_in_mixin<T, Message, Handler, Mixin>()
where
    T: NotInMixin<Message, Handler, Mixin>,
{
}

/// Holds when a consumer's `#[event_handler]` or passthrough event has an action
/// that no event handler or passthrough event of one of its mixins has.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "two handlers for one event: `{Handler}` takes `{Event}`, and the mixin `{Mixin}` has an `#[event_handler]` or passthrough event with the same `action`",
    label = "`{Mixin}` also takes the event `{Event}`",
    note = "remove `{Event}` from this consumer (the mixin then takes it), give `{Event}` another `action`, or leave `{Mixin}` out of `mixins(...)`"
)]
pub trait EventNotInMixin<Event, Handler, Mixin> {}

impl<Event, Handler, Mixin> EventNotInMixin<Event, Handler, Mixin> for SameAction<false> {}

/// The check of one consumer event against one mixin (see [`EventNotInMixin`]).
#[doc(hidden)]
pub const fn assert_event_not_in_mixin<T, Event, Handler, Mixin>()
where
    T: EventNotInMixin<Event, Handler, Mixin>,
{
}

/// Holds when two mixins of one consumer share no `#[ws_handler]` action.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "two handlers for one action: the mixins `{First}` and `{Second}` both have a `#[ws_handler]` for the same `action`",
    label = "`{Second}` handles an action that `{First}` handles too",
    note = "remove the handler from one of the two mixins, or include only one of them in `mixins(...)`"
)]
pub trait DistinctMixins<First, Second> {}

impl<First, Second> DistinctMixins<First, Second> for SameAction<false> {}

/// The check of one pair of mixins (see [`DistinctMixins`]).
#[doc(hidden)]
pub const fn assert_distinct_mixins<T, First, Second>()
where
    T: DistinctMixins<First, Second>,
{
}

/// Holds when two mixins of one consumer share no event action (handled or passed
/// through).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "two handlers for one event: the mixins `{First}` and `{Second}` both take an event with the same `action` (as an `#[event_handler]` or passthrough event)",
    label = "`{Second}` takes an event that `{First}` takes too",
    note = "remove the event from one of the two mixins, or include only one of them in `mixins(...)`"
)]
pub trait DistinctMixinEvents<First, Second> {}

impl<First, Second> DistinctMixinEvents<First, Second> for SameAction<false> {}

/// The event check of one pair of mixins (see [`DistinctMixinEvents`]).
#[doc(hidden)]
pub const fn assert_distinct_mixin_events<T, First, Second>()
where
    T: DistinctMixinEvents<First, Second>,
{
}

/// Adds a mixin's operations, events, passthrough events and sent messages to the
/// metadata of a consumer that includes it.
#[doc(hidden)]
pub fn extend_meta(
    meta: &mut ChannelMeta,
    operations: Vec<OperationMeta>,
    events: Vec<OperationMeta>,
    passthrough: Vec<MessageMeta>,
    sends: Vec<MessageMeta>,
) {
    meta.operations.extend(operations);
    meta.events.extend(events);
    meta.passthrough.extend(passthrough);
    meta.sends.extend(sends);
}
