#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use chanx_core::*;
pub use chanx_macros::{channel, event_handler, message, mixin, payload, topic, ws_handler};

/// What an app needs: `use chanx::prelude::*;`.
pub mod prelude {
    pub use chanx_core::__private::schemars::JsonSchema;
    pub use chanx_core::__private::serde::{Deserialize, Serialize};
    pub use chanx_core::{
        AuthError, AuthenticationMessage, CompleteMessage, Consumer, Context, Disconnect, ErrorMessage,
        EventCompleteMessage, FromConnection, GroupCompleteMessage, Handshake, Message, PingMessage,
        PongMessage, Route, RouteOptions, Sender, Settings, Topic, TopicChannel,
    };
    pub use chanx_macros::{channel, event_handler, message, mixin, payload, topic, ws_handler};
}
