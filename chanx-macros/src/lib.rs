//! Procedural macros of chanx. Use them through the `chanx` crate
//! (`chanx::message`, `chanx::channel`, `chanx::ws_handler`), which also provides the
//! runtime that the generated code calls through `::chanx::__private`.

#![warn(missing_docs)]

mod attr;
mod channel;
mod message;

use proc_macro::TokenStream;

/// Declares a typed message: `#[message(action = "user_message")]`.
///
/// Goes on a struct whose only field is `payload`, a newtype around the payload, or
/// a unit struct (no payload). Implements `chanx::Message`, `Serialize`,
/// `Deserialize` and `JsonSchema` for the flat frame `{"action": ..., "payload": ...}`.
/// The doc comment becomes the message's description.
#[proc_macro_attribute]
pub fn message(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand(args.into(), item.into()).into()
}

/// Makes a struct or enum usable as a message payload without depending on serde or
/// schemars yourself: derives `Serialize`, `Deserialize` and `JsonSchema` through
/// chanx's own copies. Other `#[serde(...)]` attributes keep working.
///
/// A crate that depends on serde and schemars may derive them directly instead.
#[proc_macro_attribute]
pub fn payload(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand_payload(args.into(), item.into()).into()
}

/// Turns an impl block into a chanx consumer: reads its `#[ws_handler]` methods and
/// generates the routing table (a `match` on the action), the decoding of each
/// handler's message and the AsyncAPI metadata.
///
/// Keys: `name = "..."` (default: the type name in snake_case without a `Consumer`
/// suffix), `description = "..."` (default: the impl block's doc comment),
/// `tags("a", "b")`, `groups("a", "b")` (joined on connect), `layer = "alias"` (a
/// named channel layer), `passthrough(EventA, EventB)` (events forwarded to the client
/// unchanged), `sends(Welcome)` (messages the hooks send, for the documentation),
/// `credentials(...)` (see below). Its methods marked `#[event_handler]` handle
/// server-side events.
///
/// `credentials(...)` says where clients send their credentials on the handshake, for
/// the AsyncAPI document; any one of them is enough. Each entry is `query("name")`,
/// `header("name")` or `cookie("name")`, with an optional description as a second
/// string:
///
/// ```ignore
/// #[channel(credentials(
///     query("token", "Access token"),
///     header("Authorization", "Bearer token"),
///     cookie("sessionid"),
/// ))]
/// impl SecureConsumer { /* ... */ }
/// ```
///
/// Each credential becomes an `httpApiKey` security scheme named `<location>_<name>`
/// (lowercase, `-` as `_`: `query_token`, `header_authorization`) that every operation
/// of the channel lists under `security`; query and header credentials also appear in
/// the channel's `ws` bindings. Checking them stays the job of `Consumer::authenticate`
/// or `FromConnection`.
#[proc_macro_attribute]
pub fn channel(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(args.into(), item.into()).into()
}

/// Marks a method of a `#[channel]` impl block as the handler of one message type.
///
/// Keys: `summary = "..."`, `description = "..."` (default: the doc comment),
/// `tags("a", "b")`, `output = Type` or `output = (A, B)` (default: the messages the
/// return type carries). Outside a `#[channel]` block it is a compile error.
#[proc_macro_attribute]
pub fn ws_handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    channel::stray_handler("ws_handler", item.into()).into()
}

/// Marks a method of a `#[channel]` impl block as the handler of one server-side
/// event type: events are messages sent by server code (a worker, an HTTP handler,
/// another process) through the channel layer, never by clients. What the handler
/// returns goes to the client, then `event_complete` when completion is on.
///
/// Same keys and signatures as `#[ws_handler]`. Outside a `#[channel]` block it is a
/// compile error.
#[proc_macro_attribute]
pub fn event_handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    channel::stray_handler("event_handler", item.into()).into()
}
