//! The library's error type.

/// Errors of chanx operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection is closed (or closing): nothing more can be sent to it.
    #[error("the connection is closed")]
    ConnectionClosed,
    /// A message could not be serialised to JSON.
    #[error("failed to encode a `{action}` message: {source}")]
    Encode {
        /// The action of the message.
        action: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A close code an endpoint may not send (allowed: 1000-1003, 1007-1014, 3000-4999).
    #[error("close code {0} cannot be sent by a server")]
    InvalidCloseCode(u16),
    /// The connection is in as many groups as it may be
    /// ([`Settings::max_groups`](crate::Settings::max_groups)).
    #[error("a connection may be in at most {0} groups")]
    TooManyGroups(usize),
    /// A channel-layer operation failed.
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    /// Any other failure, for hooks and handlers that return `chanx::Result`.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps any error, for hooks and handlers that return [`Result`].
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other(error.into())
    }
}

/// `Result` with chanx's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
