//! # chanx
//!
//! A typed WebSocket framework for tokio and axum, wire-compatible with the Python
//! framework Chanx. Declare messages with [`message`], consumers with [`channel`] and
//! [`ws_handler`], mount them as axum routes, and test them with [`testing`].
//!
//! See the README for a tour; [`prelude`] imports what an app needs.

#![warn(missing_docs)]

pub use chanx_core::*;
pub use chanx_macros::{channel, event_handler, message, payload, ws_handler};

/// What an app needs: `use chanx::prelude::*;`.
pub mod prelude {
    pub use chanx_core::__private::schemars::JsonSchema;
    pub use chanx_core::__private::serde::{Deserialize, Serialize};
    pub use chanx_core::{
        AuthError, AuthenticationMessage, CompleteMessage, Consumer, Context, Disconnect, ErrorMessage,
        EventCompleteMessage, FromConnection, GroupCompleteMessage, Handshake, Message, PingMessage,
        PongMessage, Route, Sender, Settings,
    };
    pub use chanx_macros::{channel, event_handler, message, payload, ws_handler};
}
