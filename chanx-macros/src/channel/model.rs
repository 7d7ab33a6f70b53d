//! What `#[channel]` knows about a consumer once its impl block is parsed.

use syn::{Ident, LitStr, Type};

/// The consumer: its channel attributes and its handlers.
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
}

/// One `#[ws_handler]` or `#[event_handler]` method.
pub struct Handler {
    pub ident: Ident,
    pub summary: Option<LitStr>,
    pub description: Option<String>,
    pub tags: Vec<LitStr>,
    /// `output = ...` if given: the messages the handler documents as its output.
    pub output: Option<Vec<Type>>,
    pub message: Type,
    pub args: Vec<Arg>,
    /// The declared return type (`()` when none).
    pub ret: Type,
}

/// A handler argument after `self`, in declaration order.
pub enum Arg {
    /// The message; its type is `Handler::message`.
    Message(Type),
    /// `cx: &mut Context<Self>`, with the declared type for spans.
    Context(Type),
}
