//! Runtime of chanx, a typed WebSocket framework for tokio and axum.
//!
//! Use it through the `chanx` crate, which re-exports this one with the macros.

#![warn(missing_docs)]
// docs.rs marks the items of optional features.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The macros expand to `::chanx::__private` paths; inside this crate that is us.
extern crate self as chanx;

// The layers, bottom up (ARCHITECTURE.md; `tests/architecture.rs` checks that no
// module uses one of a layer above its own).
mod heartbeat;
mod log;
mod origin;
mod queue;
mod stats;
mod wake;

mod protocol;

mod socket;
mod transport;

pub mod layer;

mod error;
mod settings;

mod connection;

pub mod asyncapi;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod server;
pub mod testing;

pub use connection::channel::{
    Channel, ChannelMeta, Credential, CredentialLocation, HandlerError, IntoReply, OperationMeta,
};
pub use connection::consumer::{AuthError, Consumer, Disconnect};
pub use connection::context::{Broadcast, ConnectionInfo, Context, Sender};
pub use connection::topic::{Standalone, Topic, TopicBroadcast, TopicChannel, TopicHandle, TopicType};
pub use error::{Error, Result};
pub use origin::{OriginPattern, OriginPolicy};
pub use protocol::message::{
    AuthenticationMessage, AuthenticationPayload, CompleteMessage, ErrorMessage, ErrorPayload,
    EventCompleteMessage, GroupCompleteMessage, Message, MessageMeta, Payload, PingMessage, PongMessage,
    SubscribeMessage, SubscribedMessage, TopicErrorReason, UnsubscribeMessage, UnsubscribedMessage,
};
pub use protocol::validate::{ErrorItem, Loc};
pub use server::{FromConnection, Handshake, Route, RouteOptions, serve};
pub use settings::{Settings, Shutdown};
pub use stats::{Stats, StatsSnapshot};

/// Items the macro expansions use. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use std::borrow::Cow;

    pub use axum::routing::MethodRouter;

    pub use crate::protocol::frame::RawPayload;
    pub use schemars;
    pub use serde;

    #[cfg(feature = "client")]
    pub use crate::client::{
        Answer, Asks, Client, ClientBuilder, ClientError, DecodeFrame, Decoder, FromFrame, RawFrame,
        SkipFrame,
    };
    pub use crate::connection::channel::{
        Channel, ChannelMeta, Credential, CredentialLocation, Dispatch, DistinctActions, DistinctMixinEvents,
        DistinctMixins, EventNotInMixin, NoReply, NoReplyOutputs, NotInMixin, OperationMeta, Outputs,
        Replier, Reply, ReplyOutputs, SameAction, actions_overlap, assert_distinct_actions,
        assert_distinct_mixin_events, assert_distinct_mixins, assert_event_not_in_mixin, assert_not_in_mixin,
        assert_reply, concat_actions, concat_distinct, contains_action, decode, distinct_len, extend_meta,
        str_eq, total_len,
    };
    pub use crate::connection::context::Context;
    pub use crate::connection::topic::{
        DistinctTopics, Overlap, TopicChannel, TopicParameter, TopicType, assert_distinct_topics,
        match_pattern, parse_parameter, patterns_overlap,
    };
    pub use crate::protocol::message::{
        AuthenticationMessage, CompleteMessage, ErrorMessage, EventCompleteMessage, GroupCompleteMessage,
        PongMessage, SubscribedMessage, UnsubscribedMessage,
    };
    pub use crate::protocol::message::{
        Message, deserialize_message, message_schema, message_schema_name, serialize_message,
    };
    pub use crate::server::{RouteOptions, topic_route};
}
