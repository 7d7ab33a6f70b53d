//! What `#[channel]` and `#[topic]` know about a consumer or a topic once its impl
//! block is parsed.

use syn::{Ident, LitStr, Type};

/// The consumer or topic: its attributes and its handlers.
pub struct Channel {
    pub self_ty: Type,
    pub type_name: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<LitStr>,
    /// Groups joined on connect.
    pub groups: Vec<LitStr>,
    /// Alias of the channel layer.
    pub layer: Option<LitStr>,
    /// Where clients send their credentials, in declaration order.
    pub credentials: Vec<Credential>,
    /// `log_messages`: log every message in and out.
    pub log_messages: bool,
    /// `camelize` / `camelize = <bool>`: camelCase keys on the wire; `None` follows the app.
    pub camelize: Option<bool>,
    /// `log_ignored_actions(...)`: actions left out of the message log.
    pub log_ignored_actions: Vec<LitStr>,
    /// Event types forwarded to the client unchanged.
    pub passthrough: Vec<Type>,
    /// How duplicate-action errors name a passthrough event.
    pub passthrough_label: Ident,
    /// Messages the hooks send (the welcome, say), for the documentation.
    pub sends: Vec<Type>,
    /// `#[ws_handler]` methods: client messages.
    pub handlers: Vec<Handler>,
    /// `#[event_handler]` methods: server-side events.
    pub events: Vec<Handler>,
    /// `topics(...)` of a consumer: the topic types it serves.
    pub topics: Vec<Type>,
    /// The pattern of a `#[topic]`; `None` for a consumer.
    pub pattern: Option<Pattern>,
    /// `mixins(...)` of a consumer: the `#[mixin]` traits whose handlers it includes.
    pub mixins: Vec<syn::Path>,
}

/// A `#[mixin]` trait: handlers that consumers include with `mixins(...)`.
pub struct Mixin {
    pub ident: Ident,
    /// Groups a connection to an including consumer joins on connect.
    pub groups: Vec<LitStr>,
    /// Event types forwarded to the client unchanged.
    pub passthrough: Vec<Type>,
    /// How duplicate-action errors name a passthrough event.
    pub passthrough_label: Ident,
    /// Messages the mixin's code sends on its own, for the documentation.
    pub sends: Vec<Type>,
    /// `#[ws_handler]` methods.
    pub handlers: Vec<Handler>,
    /// `#[event_handler]` methods.
    pub events: Vec<Handler>,
}

/// Which attribute the impl block carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// `#[channel]`: a consumer.
    Consumer,
    /// `#[topic]`: a topic type.
    Topic,
}

impl Item {
    /// The attribute's name.
    pub fn attribute(self) -> &'static str {
        match self {
            Item::Consumer => "channel",
            Item::Topic => "topic",
        }
    }
}

/// A topic's `pattern = "room:{room}"`, checked: its literal and its parameters.
pub struct Pattern {
    pub literal: LitStr,
    pub parameters: Vec<String>,
}

/// One entry of `credentials(...)`: `query("token", "Access token")`.
pub struct Credential {
    pub location: Location,
    pub name: LitStr,
    pub description: Option<LitStr>,
}

/// Where a credential travels: the entry's key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Query,
    Header,
    Cookie,
}

impl Location {
    pub const ALL: [Location; 3] = [Location::Query, Location::Header, Location::Cookie];

    /// The key in `credentials(...)`, also the AsyncAPI `in` value.
    pub fn key(self) -> &'static str {
        match self {
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
        }
    }

    /// The variant of `chanx::CredentialLocation`.
    pub fn variant(self) -> &'static str {
        match self {
            Location::Query => "Query",
            Location::Header => "Header",
            Location::Cookie => "Cookie",
        }
    }
}

/// One `#[ws_handler]` or `#[event_handler]` method.
pub struct Handler {
    pub ident: Ident,
    pub summary: Option<LitStr>,
    pub description: Option<String>,
    pub tags: Vec<LitStr>,
    /// `output = ...` if given: the messages the handler documents as its output.
    pub output: Option<Vec<Type>>,
    /// `broadcasts(...)`: the messages the handler sends to groups.
    pub broadcasts: Vec<Type>,
    pub message: Type,
    pub args: Vec<Arg>,
    /// The declared return type (`()` when none).
    pub ret: Type,
}

/// A handler argument after `self`, in declaration order.
pub enum Arg {
    /// The message; its type is `Handler::message`.
    Message(Type),
    /// `cx: &mut Context`, with the declared type for spans.
    Context(Type),
}
