//! Runtime of chanx, a typed WebSocket framework for tokio and axum.
//!
//! Use it through the `chanx` crate, which re-exports this one with the macros.

#![warn(missing_docs)]
// docs.rs marks the items of optional features.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The macros expand to `::chanx::__private` paths; inside this crate that is us.
extern crate self as chanx;

pub mod asyncapi;
mod channel;
mod consumer;
mod context;
mod error;
mod frame;
pub mod layer;
mod log;
mod message;
mod origin;
mod queue;
mod runtime;
pub mod serve;
mod server;
mod settings;
pub mod testing;
mod transport;
mod validate;

pub use channel::{
    Channel, ChannelMeta, Credential, CredentialLocation, HandlerError, IntoReply, OperationMeta,
};
pub use consumer::{AuthError, Consumer, Disconnect, FromConnection, Handshake};
pub use context::{Broadcast, ConnectionInfo, Context, Sender};
pub use error::{Error, Result};
pub use message::{
    AuthenticationMessage, AuthenticationPayload, CompleteMessage, ErrorMessage, ErrorPayload,
    EventCompleteMessage, GroupCompleteMessage, Message, MessageMeta, PingMessage, PongMessage,
    TopicErrorReason,
};
pub use origin::{OriginPattern, OriginPolicy};
pub use serve::serve;
pub use server::RouteOptions;
pub use settings::{Settings, Shutdown, Stats, StatsSnapshot};
pub use validate::{ErrorItem, Loc};

/// Items the macro expansions use. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use std::borrow::Cow;

    pub use schemars;
    pub use serde;
    pub use serde_json::value::RawValue;

    pub use crate::channel::{
        Channel, ChannelMeta, Credential, CredentialLocation, Dispatch, NoReply, NoReplyOutputs,
        OperationMeta, Outputs, Replier, Reply, ReplyOutputs, assert_reply, decode, str_eq,
    };
    pub use crate::context::Context;
    pub use crate::message::{
        Message, deserialize_message, message_schema, message_schema_name, serialize_message,
    };
}
