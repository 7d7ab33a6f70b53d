//! What `#[channel]` knows about a consumer once its impl block is parsed.

use syn::{Ident, LitStr, Type};

/// The consumer: its channel attributes and its handlers.
pub struct Channel {
    pub self_ty: Type,
    pub type_name: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<LitStr>,
    pub handlers: Vec<Handler>,
}

/// One `#[ws_handler]` method.
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
