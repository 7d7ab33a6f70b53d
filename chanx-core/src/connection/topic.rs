//! Topics: many typed subscriptions over one socket, as Chanx's topic protocol. The
//! [`Topic`] trait (hooks), what `#[topic]` generates against ([`TopicChannel`],
//! [`TopicType`]), the pattern matcher, and pushing to a topic's subscribers
//! ([`LayerHandle::topic`]).

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use crate::protocol::frame::RawPayload;

use crate::connection::channel::{Channel, ChannelMeta, Dispatch};
use crate::connection::consumer::Consumer;
use crate::connection::context::Context;
use crate::error::Result;
use crate::layer::{BoxFuture, Kind, LayerError, LayerHandle, LayerMessage, TopicStamp, topic_group};
use crate::protocol::message::Message;

/// A topic type's pattern and routing table. Implemented by `#[topic]`; never by hand.
///
/// A topic type's fields are the parameters of its pattern: `#[topic(pattern =
/// "room:{room}")]` on `impl RoomTopic` parses `room:lobby` into
/// `RoomTopic { room: "lobby".into() }`, each parameter with its field's `FromStr`.
pub trait TopicChannel: Channel {
    /// The pattern of the topic names this type serves, such as `room:{room}`: literal
    /// text and `{parameter}`s, each matching one or more characters other than `:`.
    const PATTERN: &'static str;

    /// The parameters of the pattern, in order.
    const PARAMETERS: &'static [&'static str];

    /// The Rust type name, which namespaces the subscribers' group (`RoomTopic.room-lobby`).
    const TYPE_NAME: &'static str;

    /// The subscription for a topic name, its parameters parsed; `None` when the name
    /// does not match the pattern or a parameter does not parse.
    fn from_name(name: &str) -> Option<Self>;
}

/// A topic: a stream a client subscribes to by name over a hub's socket (the `topic`
/// envelope key), with its own `#[ws_handler]`s and `#[event_handler]`s, or over a
/// route of its own (`RoomTopic::route()`). A `#[topic]` impl block plus these hooks,
/// all optional: `impl Topic for RoomTopic {}` is enough.
///
/// One value of the type exists per subscription, built from the topic name's
/// parameters; hooks and handlers get it as `self`, and the connection's [`Context`],
/// whose frames carry the topic ([`Context::topic`]). A topic sees the connection, not
/// the consumer: what the consumer learned about it (the user `authenticate` found)
/// reaches its topics through [`Context::extensions`].
///
/// ```
/// use chanx::prelude::*;
///
/// #[payload]
/// pub struct Post {
///     pub text: String,
/// }
///
/// /// A chat message.
/// #[message(action = "post")]
/// pub struct PostMessage {
///     pub payload: Post,
/// }
///
/// /// A chat room.
/// pub struct RoomTopic {
///     pub room: String,
/// }
///
/// #[topic(pattern = "room:{room}")]
/// impl RoomTopic {
///     #[ws_handler]
///     async fn post(&mut self, cx: &mut Context, msg: PostMessage) -> chanx::Result<()> {
///         let event = PostMessage { payload: msg.payload };
///         cx.layer().topic::<RoomTopic>(format!("room:{}", self.room)).broadcast(&event).await?;
///         Ok(())
///     }
///
///     #[event_handler]
///     async fn posted(&mut self, event: PostMessage) -> PostMessage {
///         event
///     }
/// }
///
/// impl Topic for RoomTopic {
///     async fn authorize(&self, _cx: &Context) -> bool {
///         self.room != "secret"
///     }
/// }
///
/// #[derive(Default)]
/// pub struct HubConsumer;
///
/// #[channel(name = "hub", topics(RoomTopic))]
/// impl HubConsumer {}
///
/// impl Consumer for HubConsumer {}
///
/// let app: axum::Router = axum::Router::new()
///     .route("/ws/hub", HubConsumer::route())
///     .route("/ws/rooms/{room}", RoomTopic::route());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chanx topic",
    note = "put `#[topic(pattern = \"...\")]` on an `impl {Self}` block, and add `impl Topic for {Self} {{}}`"
)]
pub trait Topic: TopicChannel {
    /// Decides whether this connection may subscribe, before anything is joined.
    /// Default: yes. A refusal is the error frame `unauthorized`; on a standalone
    /// route, the connection is then closed with 4403.
    fn authorize(&self, cx: &Context) -> impl Future<Output = bool> + Send {
        let _ = cx;
        async { true }
    }

    /// Runs once the subscription is made and acknowledged: send the topic's current
    /// state here. What it sends carries the topic and no `ref`. An `Err` is logged and
    /// answered with an error frame; the subscription stays.
    fn on_subscribe(&mut self, cx: &mut Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs when the subscription ends: on `unsubscribe`, and for every subscription
    /// left when the connection ends, however it ends (bounded by
    /// [`Settings::close_timeout`](crate::Settings::close_timeout)).
    fn on_unsubscribe(&mut self, cx: &mut Context) -> impl Future<Output = ()> + Send {
        let _ = cx;
        async {}
    }
}

/// One subscription, whatever its topic type: what the connection loop holds.
pub(crate) trait Subscription: Send {
    /// `&mut self`, so that the loop's future holding the subscription needs `Send` only.
    fn authorize<'a>(&'a mut self, cx: &'a Context) -> BoxFuture<'a, bool>;
    fn on_subscribe<'a>(&'a mut self, cx: &'a mut Context) -> BoxFuture<'a, Result<()>>;
    fn on_unsubscribe<'a>(&'a mut self, cx: &'a mut Context) -> BoxFuture<'a, ()>;
    fn dispatch<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> BoxFuture<'a, Dispatch>;
    fn dispatch_event<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> BoxFuture<'a, Dispatch>;
}

impl<T: Topic> Subscription for T {
    fn authorize<'a>(&'a mut self, cx: &'a Context) -> BoxFuture<'a, bool> {
        Box::pin(Topic::authorize(&*self, cx))
    }

    fn on_subscribe<'a>(&'a mut self, cx: &'a mut Context) -> BoxFuture<'a, Result<()>> {
        Box::pin(Topic::on_subscribe(self, cx))
    }

    fn on_unsubscribe<'a>(&'a mut self, cx: &'a mut Context) -> BoxFuture<'a, ()> {
        Box::pin(Topic::on_unsubscribe(self, cx))
    }

    fn dispatch<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> BoxFuture<'a, Dispatch> {
        Box::pin(Channel::dispatch(self, cx, action, payload))
    }

    fn dispatch_event<'a>(
        &'a mut self,
        cx: &'a mut Context,
        action: &'a str,
        payload: Option<RawPayload<'a>>,
    ) -> BoxFuture<'a, Dispatch> {
        Box::pin(Channel::dispatch_event(self, cx, action, payload))
    }
}

/// A topic type a consumer serves, as `#[channel(topics(...))]` lists them:
/// [`TopicType::of::<RoomTopic>()`](TopicType::of).
#[derive(Clone, Copy)]
pub struct TopicType {
    pattern: &'static str,
    parameters: &'static [&'static str],
    type_name: &'static str,
    actions: &'static [&'static str],
    meta: fn() -> ChannelMeta,
    open: fn(&str) -> Option<Box<dyn Subscription>>,
}

impl std::fmt::Debug for TopicType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicType")
            .field("type_name", &self.type_name)
            .field("pattern", &self.pattern)
            .finish()
    }
}

impl TopicType {
    /// The topic type `T`.
    pub const fn of<T: Topic>() -> Self {
        TopicType {
            pattern: T::PATTERN,
            parameters: T::PARAMETERS,
            type_name: T::TYPE_NAME,
            actions: T::ACTIONS,
            meta: T::meta,
            open: open::<T>,
        }
    }

    /// Its pattern, such as `room:{room}`.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The parameters of its pattern, in order.
    pub fn parameters(&self) -> &'static [&'static str] {
        self.parameters
    }

    /// Its Rust type name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Its AsyncAPI metadata: handlers, events and the messages they carry.
    pub fn meta(&self) -> ChannelMeta {
        (self.meta)()
    }

    /// The actions its `#[ws_handler]`s take.
    pub(crate) fn actions(&self) -> &'static [&'static str] {
        self.actions
    }

    /// The subscription for `name`, if it is a name of this type.
    pub(crate) fn open(&self, name: &str) -> Option<Box<dyn Subscription>> {
        (self.open)(name)
    }

    /// The layer group of the subscribers of `name`.
    pub(crate) fn group(&self, name: &str) -> String {
        topic_group(self.type_name, name)
    }
}

fn open<T: Topic>(name: &str) -> Option<Box<dyn Subscription>> {
    T::from_name(name).map(|topic| Box::new(topic) as Box<dyn Subscription>)
}

/// The consumer of a standalone topic route, `RoomTopic::route()`: it subscribes to
/// the topic its path names (`/ws/rooms/{room}` fills `room:{room}`) as the
/// connection opens, and frames without `topic` go to that subscription. Its frames
/// still carry `version` and `topic`, so a client cannot tell it from a hub. A
/// refused subscription closes the connection: 4403 when `authorize` says no, 4404
/// when the path's parameters do not parse.
pub struct Standalone<T>(PhantomData<fn() -> T>);

impl<T> Default for Standalone<T> {
    fn default() -> Self {
        Standalone(PhantomData)
    }
}

impl<T> std::fmt::Debug for Standalone<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Standalone").field(&std::any::type_name::<T>()).finish()
    }
}

impl<T: Topic> Channel for Standalone<T> {
    const ACTIONS: &'static [&'static str] = &[];
    const GROUPS: &'static [&'static str] = &[];
    const LAYER: Option<&'static str> = None;
    const TOPICS: &'static [TopicType] = &[TopicType::of::<T>()];
    const STANDALONE: bool = true;

    fn meta() -> ChannelMeta {
        T::meta()
    }

    fn dispatch<'a>(
        &'a mut self,
        _cx: &'a mut Context,
        _action: &'a str,
        _payload: Option<RawPayload<'a>>,
    ) -> impl Future<Output = Dispatch> + Send + 'a {
        std::future::ready(Dispatch::Unknown)
    }

    fn dispatch_event<'a>(
        &'a mut self,
        _cx: &'a mut Context,
        _action: &'a str,
        _payload: Option<RawPayload<'a>>,
    ) -> impl Future<Output = Dispatch> + Send + 'a {
        std::future::ready(Dispatch::Unknown)
    }
}

impl<T: Topic> Consumer for Standalone<T> {}

/// The parameters of `name` under `pattern`, in order; `None` when it does not match.
/// A parameter takes one or more characters other than `:`, as many as it can (as
/// Chanx's regular expression does). Linear in the name's length per pattern part.
#[doc(hidden)]
pub fn match_pattern<'n, const N: usize>(pattern: &str, name: &'n str) -> Option<[&'n str; N]> {
    let parts = Part::split(pattern);
    let name_bytes = name.as_bytes();
    let len = name_bytes.len();
    // `tail[p][i]`: whether `parts[p..]` match `name[i..]`.
    let mut tail = vec![vec![false; len + 1]; parts.len() + 1];
    tail[parts.len()][len] = true;
    for (p, part) in parts.iter().enumerate().rev() {
        for i in (0..len).rev() {
            tail[p][i] = match part {
                Part::Byte(byte) => name_bytes[i] == *byte && tail[p + 1][i + 1],
                // One more character of the parameter, then its end or more of it.
                Part::Parameter => name_bytes[i] != b':' && (tail[p + 1][i + 1] || tail[p][i + 1]),
            };
        }
    }
    if !tail[0][0] {
        return None;
    }
    let mut found = [""; N];
    let (mut i, mut k) = (0, 0);
    for (p, part) in parts.iter().enumerate() {
        match part {
            Part::Byte(_) => i += 1,
            Part::Parameter => {
                let mut end = i + 1;
                let mut longest = None;
                while end <= len && name_bytes[end - 1] != b':' {
                    if tail[p + 1][end] {
                        longest = Some(end);
                    }
                    end += 1;
                }
                let end = longest?;
                *found.get_mut(k)? = name.get(i..end)?;
                k += 1;
                i = end;
            }
        }
    }
    (k == N).then_some(found)
}

/// A piece of a pattern: one literal byte, or a parameter.
enum Part {
    Byte(u8),
    Parameter,
}

impl Part {
    fn split(pattern: &str) -> Vec<Part> {
        let mut parts = Vec::with_capacity(pattern.len());
        let mut bytes = pattern.bytes();
        while let Some(byte) = bytes.next() {
            if byte == b'{' {
                bytes.by_ref().find(|b| *b == b'}');
                parts.push(Part::Parameter);
            } else {
                parts.push(Part::Byte(byte));
            }
        }
        parts
    }
}

/// Parses one parameter of a topic name into its field's type.
#[doc(hidden)]
pub fn parse_parameter<T: TopicParameter>(text: &str) -> Option<T> {
    T::from_str(text).ok()
}

/// What a topic type's fields are: parsed from a topic name's parameters.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a topic parameter",
    label = "a parameter of this pattern is parsed into a field of type `{Self}`",
    note = "a topic type's fields are its pattern's parameters: give them a type with `FromStr`, such as `String` or `u64`"
)]
pub trait TopicParameter: FromStr {}

impl<T: FromStr> TopicParameter for T {}

/// Whether some topic name matches both patterns: the compile-time check that the
/// topic types of one consumer never compete for a name.
#[doc(hidden)]
pub const fn patterns_overlap(a: &str, b: &str) -> bool {
    overlap(a.as_bytes(), 0, false, b.as_bytes(), 0, false)
}

/// Whether `a[i..]` and `b[j..]` match a common string; `in_a` (`in_b`): inside a
/// parameter that has taken a character already, `i` (`j`) just after its `}`.
const fn overlap(a: &[u8], i: usize, in_a: bool, b: &[u8], j: usize, in_b: bool) -> bool {
    if i == a.len() && !in_a && j == b.len() && !in_b {
        return true;
    }
    // A parameter may end here.
    if in_a && overlap(a, i, false, b, j, in_b) {
        return true;
    }
    if in_b && overlap(a, i, in_a, b, j, false) {
        return true;
    }
    // Both take one more character.
    let param_a = in_a || (i < a.len() && a[i] == b'{');
    let param_b = in_b || (j < b.len() && b[j] == b'{');
    let (next_i, next_j) = (after_parameter(a, i, in_a), after_parameter(b, j, in_b));
    match (param_a, param_b) {
        // Staying in both parameters is the state itself: no progress to look for.
        (true, true) => (!in_a || !in_b) && overlap(a, next_i, true, b, next_j, true),
        (true, false) => j < b.len() && b[j] != b':' && overlap(a, next_i, true, b, j + 1, false),
        (false, true) => i < a.len() && a[i] != b':' && overlap(a, i + 1, false, b, next_j, true),
        (false, false) => {
            i < a.len() && j < b.len() && a[i] == b[j] && overlap(a, i + 1, false, b, j + 1, false)
        }
    }
}

/// Where a pattern goes on once a parameter took a character: after its `}`.
const fn after_parameter(pattern: &[u8], i: usize, inside: bool) -> usize {
    if inside || i >= pattern.len() || pattern[i] != b'{' {
        return i;
    }
    let mut k = i;
    while k < pattern.len() && pattern[k] != b'}' {
        k += 1;
    }
    k + 1
}

/// Whether two topic types' patterns overlap: the type
/// `Overlap<{ patterns_overlap(A::PATTERN, B::PATTERN) }>` in the check that
/// `#[channel(topics(...))]` generates for each pair.
#[doc(hidden)]
pub struct Overlap<const OVERLAP: bool>;

/// Holds when no topic name matches both `First`'s and `Second`'s patterns.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the topic types `{First}` and `{Second}` overlap: some topic names match both patterns",
    label = "overlaps an earlier topic type of this consumer",
    note = "a name must reach one topic type: give one of the patterns a literal part the other cannot match (`room:{{room}}` and `presence:{{room}}`)"
)]
pub trait DistinctTopics<First, Second> {}

impl<First, Second> DistinctTopics<First, Second> for Overlap<false> {}

/// The overlap check of one pair of topic types (see [`DistinctTopics`]).
#[doc(hidden)]
pub const fn assert_distinct_topics<T: DistinctTopics<First, Second>, First, Second>() {}

impl LayerHandle {
    /// The topic `name` of type `T` on this layer, to push to its subscribers in any
    /// process sharing the layer, Python Chanx's included:
    /// `layer.topic::<RoomTopic>("room:lobby").broadcast(&event).seq(5).await`.
    pub fn topic<T: TopicChannel>(&self, name: impl Into<String>) -> TopicHandle<'_, T> {
        TopicHandle { layer: self, name: name.into(), topic: PhantomData }
    }
}

/// One topic name of type `T` on a layer ([`LayerHandle::topic`]).
#[derive(Debug)]
pub struct TopicHandle<'a, T> {
    layer: &'a LayerHandle,
    name: String,
    topic: PhantomData<fn() -> T>,
}

impl<'a, T: TopicChannel> TopicHandle<'a, T> {
    /// Pushes `event` to every subscriber of the topic: each subscription's
    /// `#[event_handler]` for it runs (or it is forwarded, for a passthrough event), and
    /// what reaches the client carries `topic` (and `seq`, if given). Nothing is kept
    /// for subscribers that come later. Fails with [`LayerError::InvalidName`] for a
    /// name that `T`'s pattern does not match.
    pub fn broadcast<E: Message>(self, event: &E) -> TopicBroadcast<'a> {
        let message = match T::from_name(&self.name) {
            Some(_) => LayerMessage::encode(Kind::Event, event),
            None => Err(LayerError::InvalidName { what: "topic", name: self.name.clone() }),
        };
        TopicBroadcast {
            layer: self.layer,
            group: topic_group(T::TYPE_NAME, &self.name),
            name: self.name,
            message,
            seq: None,
        }
    }

    /// The layer group of the topic's subscribers, as Chanx names it.
    pub fn group(&self) -> String {
        topic_group(T::TYPE_NAME, &self.name)
    }
}

/// A pending topic broadcast; `.await` it.
#[must_use = "a topic broadcast does nothing until awaited"]
pub struct TopicBroadcast<'a> {
    layer: &'a LayerHandle,
    name: String,
    group: String,
    message: std::result::Result<LayerMessage, LayerError>,
    seq: Option<u64>,
}

impl TopicBroadcast<'_> {
    /// A sequence number for the push, copied to the frames it produces as `seq`, so
    /// that clients can see a gap. Chosen by the caller; nothing replays a missed push.
    pub fn seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }
}

impl<'a> IntoFuture for TopicBroadcast<'a> {
    type Output = std::result::Result<(), LayerError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut message = self.message?;
            message.topic = Some(Arc::new(TopicStamp { name: self.name.into(), seq: self.seq }));
            self.layer.layer().group_send(std::slice::from_ref(&self.group), message).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_whole_names_and_takes_its_parameters() {
        assert_eq!(match_pattern::<1>("room:{room}", "room:lobby"), Some(["lobby"]));
        assert_eq!(match_pattern::<1>("room:{room}", "room:"), None);
        assert_eq!(match_pattern::<1>("room:{room}", "room:a:b"), None);
        assert_eq!(match_pattern::<1>("room:{room}", "rooms:a"), None);
        assert_eq!(match_pattern::<2>("chat:{room}:{user}", "chat:x:y"), Some(["x", "y"]));
        assert_eq!(match_pattern::<0>("announcements", "announcements"), Some([]));
        // As many characters as it can, as Chanx's regular expression takes them.
        assert_eq!(match_pattern::<2>("{a}-{b}", "x-y-z"), Some(["x-y", "z"]));
        assert_eq!(match_pattern::<1>("job:{id}", "job:ünï"), Some(["ünï"]));
        let long = format!("job:{}", "-".repeat(250));
        assert!(match_pattern::<3>("job:{a}-{b}-{c}", &long).is_some());
    }

    #[test]
    fn overlapping_patterns_are_found() {
        assert!(patterns_overlap("room:{room}", "room:{id}"));
        assert!(patterns_overlap("room:{room}", "room:lobby"));
        assert!(patterns_overlap("{kind}:{id}", "room:{room}"));
        assert!(patterns_overlap("run-{id}", "{name}-7"));
        assert!(!patterns_overlap("room:{room}", "presence:{room}"));
        assert!(!patterns_overlap("room:{room}", "room:{room}:members"));
        assert!(!patterns_overlap("{a}", "x:y"));
        assert!(!patterns_overlap("job:{id}", "job:"));
    }

    #[test]
    fn topic_groups_are_named_as_chanx_names_them() {
        assert_eq!(topic_group("RoomTopic", "room:lobby"), "RoomTopic.room-lobby");
        assert_eq!(topic_group("T", "::a::b::"), "T.a-b");
        // Python: safe_group_name("x" * 200, namespace="RoomTopic")
        let long = topic_group("RoomTopic", &"x".repeat(200));
        assert_eq!(long, format!("RoomTopic.{}.92e64099e3aa", "x".repeat(76)));
        assert_eq!(topic_group("RoomTopic", "room:é"), "RoomTopic.room");
        // Python: RoomTopic.group_name("room:" + "Weekly Sync! " * 10)
        let odd = topic_group("RoomTopic", &format!("room:{}", "Weekly Sync! ".repeat(10)));
        assert_eq!(odd, format!("RoomTopic.room{}.e581a6abf364", "-Weekly-Sync".repeat(6)));
    }
}
