//! Procedural macros of chanx. Use them through the `chanx` crate
//! (`chanx::message`, `chanx::channel`, `chanx::mixin`, `chanx::ws_handler`), which also provides the
//! runtime that the generated code calls through `::chanx::__private`.

#![warn(missing_docs)]

mod attr;
mod channel;
mod message;

use proc_macro::TokenStream;

/// Declares a typed message: `#[message(action = "user_message")]`.
///
/// Key: `action = "..."` (required, not empty): the `action` string that identifies
/// the message on the wire and routes it to its handler.
///
/// Goes on a struct whose only field is `payload`, a newtype around the payload, or
/// a unit struct (no payload). Implements `chanx::Message`, `Serialize`,
/// `Deserialize` and `JsonSchema` for the flat frame `{"action": ..., "payload": ...}`.
/// The doc comment becomes the message's description in the AsyncAPI document.
///
/// ```
/// use chanx::prelude::*;
///
/// /// A chat line from a client.
/// #[message(action = "chat")]
/// pub struct Chat {
///     pub payload: ChatPayload,
/// }
///
/// #[payload]
/// pub struct ChatPayload {
///     pub text: String,
/// }
///
/// /// The same with a newtype: the payload is the string itself.
/// #[message(action = "shout")]
/// pub struct Shout(pub String);
///
/// /// No payload at all (`"payload": null` on the wire).
/// #[message(action = "bye")]
/// pub struct Bye;
///
/// let frame: Shout = serde_json::from_str(r#"{"action": "shout", "payload": "hi"}"#)?;
/// assert_eq!(frame.0, "hi");
/// assert_eq!(serde_json::to_string(&Bye)?, r#"{"action":"bye","payload":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[proc_macro_attribute]
pub fn message(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand(args.into(), item.into()).into()
}

/// Makes a struct or enum usable as a message payload without depending on serde or
/// schemars yourself: derives `Serialize`, `Deserialize` and `JsonSchema` through
/// chanx's own copies. Other `#[serde(...)]` attributes keep working. It has no keys.
///
/// A crate that depends on serde and schemars may derive them directly instead.
///
/// ```
/// use chanx::prelude::*;
///
/// #[payload]
/// #[derive(Debug, PartialEq)]
/// pub struct Job {
///     #[serde(rename = "type", default)]
///     pub kind: String,
///     pub content: String,
/// }
///
/// #[message(action = "job")]
/// pub struct JobMessage {
///     pub payload: Job,
/// }
///
/// let job: JobMessage = serde_json::from_str(r#"{"action": "job", "payload": {"content": "hello"}}"#)?;
/// assert_eq!(job.payload, Job { kind: String::new(), content: "hello".into() });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[proc_macro_attribute]
pub fn payload(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand_payload(args.into(), item.into()).into()
}

/// Turns an impl block into a chanx consumer: reads its `#[ws_handler]` and
/// `#[event_handler]` methods and generates the routing table (a `match` on the
/// action), the decoding of each handler's message and the AsyncAPI metadata.
///
/// Keys, all optional:
///
/// - `name = "..."`: the AsyncAPI channel name (default: the type name in snake_case
///   without a `Consumer` suffix);
/// - `description = "..."` (default: the impl block's doc comment);
/// - `tags("a", "b")`: AsyncAPI tags of the channel;
/// - `groups("a", "b")`: groups every connection joins on connect (and leaves on
///   disconnect), the default target of `cx.broadcast_message`;
/// - `layer = "alias"`: the named channel layer of this consumer (default: the app's
///   default layer); a connection to a consumer whose alias is not registered is closed
///   with 1011;
/// - `passthrough(EventA, EventB)`: server-side events forwarded to the client unchanged;
/// - `sends(Welcome)`: messages the hooks send (e.g. on connect), for the document;
/// - `credentials(...)`: where clients put their credentials (below);
/// - `log_messages`: log every message in and out, as Chanx's `log_websocket_message`
///   (below);
/// - `log_ignored_actions("a", "b")`: actions the message log leaves out, in both
///   directions; only with `log_messages`;
/// - `topics(RoomTopic, PresenceTopic)`: the `#[topic]` types clients may subscribe to
///   over this consumer's socket (a hub; see `#[topic]`). Two whose patterns overlap
///   are a compile error;
/// - `mixins(Presence, Typing)`: `#[mixin]` traits whose handlers, groups and events the
///   consumer includes (see `#[mixin]`); the consumer also needs `impl Presence for
///   MyConsumer {}`.
///
/// ```
/// use chanx::prelude::*;
///
/// #[message(action = "say")]
/// pub struct Say(pub String);
/// #[message(action = "welcome")]
/// pub struct Welcome;
/// #[message(action = "announcement")]
/// pub struct Announcement(pub String);
///
/// /// A chat room.
/// #[derive(Default)]
/// pub struct LobbyConsumer;
///
/// #[channel(
///     name = "lobby",
///     description = "Everyone in one room",
///     tags("chat"),
///     groups("lobby"),
///     layer = "chat",
///     passthrough(Announcement),
///     sends(Welcome),
/// )]
/// impl LobbyConsumer {
///     #[ws_handler]
///     async fn say(&mut self, msg: Say) -> Say {
///         msg
///     }
/// }
///
/// impl Consumer for LobbyConsumer {
///     async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
///         cx.send_message(Welcome).await
///     }
/// }
///
/// let docs = chanx::asyncapi!().channel::<LobbyConsumer>("/ws/lobby").document().expect("a document");
/// assert_eq!(docs["channels"]["lobby"]["address"], "/ws/lobby");
/// ```
///
/// `credentials(...)` says where clients send their credentials on the handshake, for
/// the AsyncAPI document; any one of them is enough. Each entry is `query("name")`,
/// `header("name")` or `cookie("name")`, with an optional description as a second
/// string:
///
/// ```
/// # use chanx::prelude::*;
/// # #[message(action = "ping")] pub struct Ping;
/// # #[derive(Default)] pub struct SecureConsumer;
/// #[channel(credentials(
///     query("token", "Access token"),
///     header("Authorization", "Bearer token"),
///     cookie("sessionid"),
/// ))]
/// impl SecureConsumer {
///     #[ws_handler]
///     async fn ping(&mut self, msg: Ping) -> Ping {
///         msg
///     }
/// }
/// # impl Consumer for SecureConsumer {}
/// ```
///
/// Each credential becomes an `httpApiKey` security scheme named `<location>_<name>`
/// (lowercase, `-` as `_`: `query_token`, `header_authorization`) that every operation
/// of the channel lists under `security`; query and header credentials also appear in
/// the channel's `ws` bindings. Checking them stays the job of `Consumer::authenticate`
/// or `FromConnection`.
///
/// `log_messages` logs each message of the consumer's connections through `tracing`, at
/// `info` level: each inbound frame once parsed (`direction = "in"`, with a
/// `message_id` counted per connection) and each frame written to the client
/// (`direction = "out"`: replies, errors, completions, broadcasts, events), with the
/// fields `channel`, `action` and `reference` (the frame's `ref`), never the payload.
/// `log_ignored_actions(...)` leaves chatty actions out; without `log_messages` it is a
/// compile error. See `chanx::Channel::LOG_MESSAGES` for the details.
///
/// ```
/// # use chanx::prelude::*;
/// use chanx::Channel;
///
/// # #[message(action = "say")] pub struct Say(pub String);
/// # #[derive(Default)] pub struct ChatConsumer;
/// #[channel(log_messages, log_ignored_actions("ping", "pong"))]
/// impl ChatConsumer {
///     #[ws_handler]
///     async fn say(&mut self, msg: Say) -> Say {
///         msg
///     }
///
///     #[ws_handler]
///     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
/// # impl Consumer for ChatConsumer {}
///
/// assert!(ChatConsumer::LOG_MESSAGES);
/// assert_eq!(ChatConsumer::LOG_IGNORED_ACTIONS, ["ping", "pong"]);
/// ```
///
/// `camelize` puts camelCase keys on this consumer's wire, as Chanx's `camelize`
/// consumer attribute: the keys of every frame its connections write are camelized
/// (`user_name` → `userName`, with pyhumps' rules), and the keys of a client frame's
/// payload decamelized before decoding, so that handlers see their snake_case fields;
/// values, an error's `loc` included, stay. `camelize = false` keeps snake_case whatever
/// the app's `Settings::camelize` says; without the key the consumer follows the app.
/// It sets `chanx::Channel::CAMELIZE` (`Some(true)`, `Some(false)`, `None`); topics
/// follow the consumer they are subscribed through.
///
/// ```
/// # use chanx::prelude::*;
/// use chanx::Channel;
///
/// # #[derive(Default)] pub struct CamelConsumer;
/// # #[derive(Default)] pub struct SnakeConsumer;
/// #[channel(camelize)]
/// impl CamelConsumer {
///     #[ws_handler]
///     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
/// # impl Consumer for CamelConsumer {}
///
/// #[channel(camelize = false)]
/// impl SnakeConsumer {
///     #[ws_handler]
///     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
/// # impl Consumer for SnakeConsumer {}
///
/// assert_eq!(CamelConsumer::CAMELIZE, Some(true));
/// assert_eq!(SnakeConsumer::CAMELIZE, Some(false));
/// ```
///
/// With chanx's `client` feature, `#[channel]` also generates a typed client of the
/// consumer, for services, bots, tools and tests (it works against Python Chanx servers
/// of the same protocol too): `MyConsumer::client(url)` gives a `ClientBuilder` whose
/// `connect()` yields `MyConsumerClient`, with one `async` method per `#[ws_handler]`,
/// named after it: a handler that returns a message (`M`, `Option<M>`, `Result<M, _>`)
/// becomes a request that waits for that message by `ref` (an error frame answering it
/// is `ClientError::Server`); one that returns `()` a plain send; one whose return type
/// cannot be read from its signature (an alias, or several `output` types) returns the
/// frame enum. `MyConsumerFrame` is that enum: one variant per message type the consumer
/// is seen to send (replies, `output`, `broadcasts`, event handlers' replies,
/// passthrough events, `sends`, the framework frames), and `Other` for the rest; `next()`
/// yields it for every frame that answers no request. The client dereferences to
/// `chanx::client::Client` (topics, raw requests, the frames as `RawFrame`).
///
/// ```
/// # use std::future::IntoFuture;
/// use chanx::prelude::*;
///
/// # #[message(action = "say")] #[derive(Debug, PartialEq)] pub struct Say(pub String);
/// # #[message(action = "said")] #[derive(Debug, PartialEq)] pub struct Said(pub String);
/// #[derive(Default)]
/// pub struct EchoConsumer;
///
/// #[channel(groups("echo"))]
/// impl EchoConsumer {
///     #[ws_handler(broadcasts(Said))]
///     async fn say(&mut self, cx: &mut Context, msg: Say) -> chanx::Result<Say> {
///         cx.broadcast_message(Said(msg.0.clone())).exclude_current().await?;
///         Ok(msg)
///     }
/// }
/// # impl Consumer for EchoConsumer {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let url = format!("ws://{}/ws/echo", listener.local_addr()?);
/// # let app = axum::Router::new().route("/ws/echo", EchoConsumer::route());
/// # tokio::spawn(chanx::serve(listener, app).into_future());
/// let mut ann = EchoConsumer::client(&url).connect().await?;
/// let bob = EchoConsumer::client(&url).connect().await?;
/// // The reply, matched by its `ref`:
/// assert_eq!(bob.say(Say("hi".into())).await?, Say("hi".into()));
/// // What answers no request of ann's: the broadcast.
/// match ann.next().await {
///     Some(Ok(EchoConsumerFrame::Said(said))) => assert_eq!(said, Said("hi".into())),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
#[proc_macro_attribute]
pub fn channel(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(args.into(), item.into(), channel::Item::Consumer).into()
}

/// Declares a mixin: a trait of `#[ws_handler]` and `#[event_handler]` methods that
/// several consumers include with `#[channel(mixins(Presence))]`, as Chanx's consumer
/// mixins. Each handler is a default method, written as in a `#[channel]` block; a
/// consumer that lists the mixin and implements the trait (`impl Presence for
/// RoomConsumer {}`) answers the mixin's actions, joins its groups, runs its event
/// handlers, forwards its passthrough events, and documents its operations in the
/// AsyncAPI document (under the consumer's channel: `<channel>.<handler>`).
///
/// Keys, all optional:
///
/// - `groups("a", "b")`: groups every connection of an including consumer joins on
///   connect, after the consumer's own;
/// - `passthrough(EventA, EventB)`: server-side events forwarded to the client unchanged;
/// - `sends(Message)`: messages the mixin's code sends on its own, for the document.
///
/// The handlers reach the consumer's state through the trait: declare the methods
/// they need (`fn names(&mut self) -> &mut Vec<String>;`) and let each consumer
/// implement them, or bound the trait by a trait of yours (`trait Presence: Consumer +
/// HasRoster`). A mixin cannot be generic, and its handlers need a body.
///
/// An action handled by both the consumer and one of its mixins, or by two mixins of
/// one consumer, is a compile error on the mixin in `mixins(...)` (the same for event
/// handlers and passthrough events). The consumer's own handlers are tried first, then
/// each mixin in the order of `mixins(...)`; `Channel::ACTIONS`, which the error for an
/// unknown action lists, holds them all.
///
/// Each `async fn` handler becomes a `fn` returning `impl Future + Send` (so that it
/// runs on any consumer): what it holds across an `.await` must be `Send`. The trait
/// gets `Send` as a supertrait, and hidden items that `#[channel]` uses.
///
/// ```
/// use chanx::Channel;
/// use chanx::prelude::*;
/// use chanx::testing::TestClient;
///
/// #[message(action = "who")]
/// pub struct Who;
/// #[message(action = "here")]
/// pub struct Here(pub Vec<String>);
/// #[message(action = "user_left")]
/// pub struct UserLeft(pub String);
///
/// /// Who is in the room, for any consumer that keeps a list of names.
/// #[mixin(groups("presence"), passthrough(UserLeft))]
/// pub trait Presence: Consumer {
///     /// The consumer's list of names.
///     fn names(&mut self) -> &mut Vec<String>;
///
///     /// Lists who is here.
///     #[ws_handler(summary = "Who is here")]
///     async fn who(&mut self, _msg: Who) -> Here {
///         Here(self.names().clone())
///     }
/// }
///
/// #[message(action = "join")]
/// pub struct Join(pub String);
///
/// #[derive(Default)]
/// pub struct RoomConsumer {
///     names: Vec<String>,
/// }
///
/// #[channel(mixins(Presence))]
/// impl RoomConsumer {
///     #[ws_handler]
///     async fn join(&mut self, msg: Join) {
///         self.names.push(msg.0);
///     }
/// }
///
/// impl Consumer for RoomConsumer {}
///
/// impl Presence for RoomConsumer {
///     fn names(&mut self) -> &mut Vec<String> {
///         &mut self.names
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(RoomConsumer::ACTIONS, ["join", "who"]);
/// assert_eq!(RoomConsumer::GROUPS, ["presence"]);
/// let docs = chanx::asyncapi!().channel::<RoomConsumer>("/ws/room").document().expect("a document");
/// assert_eq!(docs["operations"]["room.who"]["summary"], "Who is here");
///
/// let mut client = TestClient::connect::<RoomConsumer>();
/// client.send_message(&Join("ada".into())).await.expect("sent");
/// client.send_message(&Who).await.expect("sent");
/// let here: Here = client.receive_message().await.expect("a reply");
/// assert_eq!(here.0, ["ada"]);
/// # }
/// ```
///
/// `sends(...)` documents what the code that comes with a mixin sends outside its
/// handlers, such as a message pushed on connect:
///
/// ```
/// use chanx::Channel;
/// use chanx::prelude::*;
///
/// #[message(action = "roster")]
/// pub struct Roster(pub Vec<String>);
///
/// /// The roster pushed on connect, by the consumers' `post_authentication`.
/// #[mixin(sends(Roster))]
/// pub trait RosterPush {}
///
/// #[derive(Default)]
/// pub struct HallConsumer;
///
/// #[channel(mixins(RosterPush))]
/// impl HallConsumer {}
///
/// impl Consumer for HallConsumer {
///     async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
///         cx.send_message(Roster(Vec::new())).await
///     }
/// }
///
/// impl RosterPush for HallConsumer {}
///
/// assert_eq!(HallConsumer::meta().sends[0].action, "roster");
/// ```
///
/// With chanx's `client` feature, the mixin also gets a client trait, `<Mixin>Client`
/// (`PresenceClient`), implemented for every connection: with it in scope, the typed
/// client of any consumer that includes the mixin has the mixin's handlers as methods,
/// typed by their signatures (a handler whose types name `Self` gets none).
#[proc_macro_attribute]
pub fn mixin(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand_mixin(args.into(), item.into()).into()
}

/// Declares a topic: `#[topic(pattern = "room:{room}")]` on the impl block of a type
/// whose fields are the pattern's parameters. Clients subscribe to a topic by name
/// (`room:lobby`) over the socket of a consumer that lists the type in
/// `#[channel(topics(...))]`, or over a route of its own (`RoomTopic::route()`); the
/// block's `#[ws_handler]`s take the frames addressed to the subscription and its
/// `#[event_handler]`s the pushes of `layer.topic::<RoomTopic>(name).broadcast(...)`.
/// Add `impl Topic for RoomTopic {}` for the hooks (`authorize`, `on_subscribe`,
/// `on_unsubscribe`).
///
/// Keys:
///
/// - `pattern = "..."` (required): literal text and `{parameter}`s, each matching one or
///   more characters other than `:` and parsed (`FromStr`) into the field of that name.
///   A malformed pattern, a parameter the type has no field for, a field the pattern
///   lacks, or two topic types of one consumer whose patterns overlap are compile errors;
/// - `name = "..."`: the AsyncAPI channel name (default: the type name in snake case);
/// - `description = "..."` (default: the doc comment) and `tags("a", "b")`;
/// - `passthrough(EventA)`: pushes forwarded to the client unchanged (with `topic` and
///   `seq`);
/// - `sends(State)`: messages the hooks send (the state `on_subscribe` pushes), for the
///   document.
///
/// ```
/// use chanx::prelude::*;
///
/// #[message(action = "job_progress")]
/// pub struct JobProgress(pub u8);
///
/// /// The progress of one job.
/// pub struct JobTopic {
///     pub id: u64,
/// }
///
/// #[topic(pattern = "job:{id}", passthrough(JobProgress))]
/// impl JobTopic {}
///
/// impl Topic for JobTopic {}
///
/// assert_eq!(JobTopic::from_name("job:42").map(|job| job.id), Some(42));
/// assert!(JobTopic::from_name("job:x").is_none(), "`id` does not parse");
/// assert!(JobTopic::from_name("job:1:2").is_none(), "a parameter stops at `:`");
/// assert_eq!(JobTopic::PARAMETERS, ["id"]);
/// ```
///
/// With chanx's `client` feature, a topic type also gets a typed client over any
/// client's connection: `JobTopic::on(&client, "job:42")`, with `subscribe`,
/// `unsubscribe` and one method per `#[ws_handler]` of the topic (each frame carrying the
/// topic), and `JobTopicFrame`, the enum of what the topic sends.
///
/// ```
/// # use chanx::prelude::*;
/// # #[message(action = "job_progress")] pub struct JobProgress(pub u8);
/// # pub struct JobTopic { pub id: u64 }
/// # #[topic(pattern = "job:{id}", passthrough(JobProgress))] impl JobTopic {}
/// # impl Topic for JobTopic {}
/// async fn follow(client: &chanx::client::Client) -> Result<(), chanx::client::ClientError> {
///     JobTopic::on(client, "job:42").subscribe().await
/// }
/// ```
#[proc_macro_attribute]
pub fn topic(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(args.into(), item.into(), channel::Item::Topic).into()
}

/// Marks a method of a `#[channel]` or `#[topic]` impl block, or of a `#[mixin]`
/// trait, as the handler of one message type. Elsewhere it is a compile error.
///
/// The handler is an `async fn` taking `&mut self`, optionally `cx: &mut Context`,
/// and the message by value; it returns a reply message, `Option<M>`,
/// `chanx::Result<M>`, `chanx::Result<()>` or nothing. An `Err` (or a panic) costs
/// that one message an error frame, not the connection.
///
/// Keys, all optional:
///
/// - `summary = "..."` and `description = "..."` (default: the doc comment) of its
///   AsyncAPI operation;
/// - `tags("a", "b")`: the operation's tags;
/// - `output = Type` or `output = (A, B)`: what it replies to the sender (default: the
///   message its return type carries), for a handler that replies through `cx`;
/// - `broadcasts(A, B)`: what it broadcasts to groups, documented as a `send`
///   operation of its own (`<channel>.<handler>_broadcast`), apart from the reply.
///
/// ```
/// use chanx::prelude::*;
///
/// #[message(action = "chat")]
/// pub struct Chat(pub String);
/// #[message(action = "chat_notification")]
/// pub struct ChatNotification(pub String);
/// #[message(action = "received")]
/// pub struct Received;
///
/// #[derive(Default)]
/// pub struct RoomConsumer;
///
/// #[channel(groups("room"))]
/// impl RoomConsumer {
///     /// Broadcasts the line to the room and tells the sender it went out.
///     #[ws_handler(summary = "Send a chat line", tags("chat"), broadcasts(ChatNotification))]
///     async fn chat(&mut self, cx: &mut Context, msg: Chat) -> chanx::Result<Received> {
///         cx.broadcast_message(ChatNotification(msg.0)).exclude_current().await?;
///         Ok(Received)
///     }
/// }
///
/// impl Consumer for RoomConsumer {}
///
/// let docs = chanx::asyncapi!().channel::<RoomConsumer>("/ws/room").document().expect("a document");
/// assert_eq!(docs["operations"]["room.chat"]["action"], "receive");
/// assert_eq!(docs["operations"]["room.chat_broadcast"]["action"], "send");
/// ```
#[proc_macro_attribute]
pub fn ws_handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    channel::stray_handler("ws_handler", item.into()).into()
}

/// Marks a method of a `#[channel]` or `#[topic]` impl block, or of a `#[mixin]`
/// trait, as the handler of one server-side event type: events are messages sent by server code (a worker, an HTTP handler,
/// another process) through the channel layer, never by clients. What the handler
/// returns goes to the client, then `event_complete` when completion is on.
///
/// Same keys and signatures as `#[ws_handler]`. Elsewhere it is a compile error.
///
/// ```
/// use chanx::prelude::*;
/// use chanx::testing::TestClient;
///
/// #[message(action = "job_done")]
/// pub struct JobDone(pub String);
/// #[message(action = "job_status")]
/// pub struct JobStatus(pub String);
///
/// #[derive(Default)]
/// pub struct JobsConsumer;
///
/// #[channel]
/// impl JobsConsumer {
///     #[event_handler(summary = "A worker finished a job")]
///     async fn job_done(&mut self, event: JobDone) -> JobStatus {
///         JobStatus(format!("done: {}", event.0))
///     }
/// }
///
/// impl Consumer for JobsConsumer {}
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let layers = chanx::layer::Layers::default();
/// let mut client = TestClient::builder().layers(layers.clone()).connect::<JobsConsumer>();
/// client.receive_nothing().await.expect("connected");
/// let worker = layers.default_layer();
/// worker.send_event(client.channel_name(), &JobDone("42".into())).await.expect("sent");
/// let status: JobStatus = client.receive_message().await.expect("a status");
/// assert_eq!(status.0, "done: 42");
/// # }
/// ```
#[proc_macro_attribute]
pub fn event_handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    channel::stray_handler("event_handler", item.into()).into()
}
