//! Typed messages: the [`Message`] trait, the stock framework messages and the
//! helpers that `#[message]` expands to.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{DeserializeOwned, Error as _, IntoDeserializer};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use chanx_macros::message;

use crate::protocol::validate::ErrorItem;

/// A typed WebSocket message, identified on the wire by its `action` string.
///
/// Do not implement this trait by hand: put `#[message(action = "...")]` on a struct
/// whose only field is `payload`, on a newtype around the payload, or on a unit
/// struct for a message without payload. The attribute also implements
/// `Serialize`, `Deserialize` and `JsonSchema` for the flat frame
/// `{"action": ..., "payload": ...}`.
///
/// ```
/// use chanx::prelude::*;
///
/// #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
/// pub struct MessagePayload {
///     pub message: String,
/// }
///
/// /// System echo response message.
/// #[message(action = "system_echo")]
/// pub struct SystemEchoMessage {
///     pub payload: MessagePayload,
/// }
///
/// assert_eq!(SystemEchoMessage::ACTION, "system_echo");
/// let echo = SystemEchoMessage { payload: MessagePayload { message: "hi".into() } };
/// assert_eq!(
///     serde_json::to_string(&echo).unwrap(),
///     r#"{"action":"system_echo","payload":{"message":"hi"}}"#
/// );
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chanx message",
    label = "not a chanx message",
    note = "declare it with `#[message(action = \"...\")]` on a struct whose only field is `payload`"
)]
pub trait Message: Serialize + DeserializeOwned + JsonSchema + Send + Sized + 'static {
    /// The `action` string that identifies this message on the wire.
    const ACTION: &'static str;
    /// The Rust type name, used to name the message in schemas and documents.
    const NAME: &'static str;
    /// The doc comment of the message type, if any.
    const DESCRIPTION: Option<&'static str>;
    /// The type of the `payload` field (`()` for messages without payload).
    type Payload: Payload + Send;

    /// Borrows the payload.
    fn payload(&self) -> &Self::Payload;
    /// Builds the message from its payload.
    fn from_payload(payload: Self::Payload) -> Self;
    /// Takes the payload out of the message.
    fn into_payload(self) -> Self::Payload;

    /// Describes this message for the AsyncAPI metadata.
    fn meta() -> MessageMeta {
        MessageMeta {
            name: Self::NAME,
            action: Self::ACTION,
            description: Self::DESCRIPTION,
            schema: |generator| generator.subschema_for::<Self>(),
        }
    }
}

/// What a message carries in its `payload` field: data that serde reads and writes
/// and that has a JSON Schema. Every type that implements `Serialize`,
/// `DeserializeOwned` and `JsonSchema` is a payload; `#[payload]` derives the three.
///
/// A single trait, rather than the three as bounds of [`Message::Payload`], so that a
/// payload type missing them gives one compile error that names the fix.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message payload",
    label = "not a message payload",
    note = "put `#[payload]` on `{Self}` (or derive `Serialize`, `Deserialize` and `JsonSchema` for it)"
)]
pub trait Payload: Sized {
    /// Serialises the payload, as `Serialize::serialize`.
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Deserialises a payload, as `Deserialize::deserialize`.
    fn deserialize_payload<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;

    /// Registers the payload's JSON Schema with `generator` and returns a reference to
    /// it, as `SchemaGenerator::subschema_for`.
    fn payload_schema(generator: &mut SchemaGenerator) -> Schema;

    /// The payload's JSON Schema as a root schema, as
    /// `SchemaGenerator::into_root_schema_for`.
    fn payload_root_schema(generator: SchemaGenerator) -> Schema;
}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + JsonSchema> Payload for T {
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }

    fn deserialize_payload<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer)
    }

    fn payload_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }

    fn payload_root_schema(generator: SchemaGenerator) -> Schema {
        generator.into_root_schema_for::<T>()
    }
}

/// A [`Payload`] seen through serde: serialises a borrowed payload, deserialises an
/// owned one.
pub(crate) struct AsSerde<T>(pub T);

impl<T: Payload> Serialize for AsSerde<&T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_payload(serializer)
    }
}

impl<'de, T: Payload> Deserialize<'de> for AsSerde<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize_payload(deserializer).map(AsSerde)
    }
}

/// Metadata of one message type: what the AsyncAPI document says of it.
#[derive(Debug, Clone, Copy)]
pub struct MessageMeta {
    /// Rust type name of the message.
    pub name: &'static str,
    /// Wire `action` of the message.
    pub action: &'static str,
    /// Doc comment of the message type.
    pub description: Option<&'static str>,
    /// Registers the JSON Schema of the whole frame (`action`, `payload` and the
    /// optional envelope keys) with the generator and returns a reference to it.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

/// Serialises a message as the flat frame `{"action": ..., "payload": ...}`.
#[doc(hidden)]
pub fn serialize_message<M: Message, S: Serializer>(msg: &M, serializer: S) -> Result<S::Ok, S::Error> {
    let mut frame = serializer.serialize_struct(M::NAME, 2)?;
    frame.serialize_field("action", M::ACTION)?;
    frame.serialize_field("payload", &AsSerde(msg.payload()))?;
    frame.end()
}

/// Deserialises a message from the flat frame, checking its `action`.
#[doc(hidden)]
pub fn deserialize_message<'de, M: Message, D: Deserializer<'de>>(deserializer: D) -> Result<M, D::Error> {
    #[derive(Deserialize)]
    struct Frame<'a> {
        #[serde(borrow)]
        action: Cow<'a, str>,
        #[serde(default)]
        payload: Option<Value>,
    }
    let frame = Frame::deserialize(deserializer)?;
    if frame.action != M::ACTION {
        return Err(D::Error::custom(format_args!(
            "expected action `{}`, found `{}`",
            M::ACTION,
            frame.action
        )));
    }
    let payload = match frame.payload {
        Some(value) => M::Payload::deserialize_payload(value),
        None => M::Payload::deserialize_payload(().into_deserializer()),
    };
    payload.map(M::from_payload).map_err(D::Error::custom)
}

/// JSON Schema of a message frame: `action` is a required constant, `payload` the
/// payload's own schema (required unless the payload accepts `null`), and the optional
/// envelope keys `ref`, `version`, `topic` and `seq`.
#[doc(hidden)]
pub fn message_schema<M: Message>(generator: &mut SchemaGenerator) -> Schema {
    let payload = M::Payload::payload_schema(generator);
    let payload_optional = payload_accepts_null::<M>();
    let required: &[&str] = if payload_optional { &["action"] } else { &["action", "payload"] };
    let mut schema = json_schema!({
        "type": "object",
        "title": M::NAME,
        "properties": {
            "action": { "type": "string", "const": M::ACTION, "default": M::ACTION },
            "payload": payload,
            "ref": {
                "type": "string",
                "description": "Request reference: optional on client frames, echoed on the frames answering them",
            },
            "version": {
                "type": "integer",
                "description": "Envelope version: sent as 1 with `ref` or `topic`",
            },
            "topic": {
                "type": "string",
                "description": "The topic subscription a frame belongs to (topics feature)",
            },
            "seq": {
                "type": "integer",
                "minimum": 0,
                "description": "Sequence number of the topic push a server frame comes from, as its sender numbered it",
            },
        },
        "required": required,
    });
    if let Some(description) = M::DESCRIPTION {
        schema.insert("description".into(), description.into());
    }
    schema
}

/// Whether a frame of `M` may leave out its payload (or send `null`).
pub(crate) fn payload_accepts_null<M: Message>() -> bool {
    M::Payload::deserialize_payload(().into_deserializer()).map_err(|e: serde::de::value::Error| e).is_ok()
}

/// Implements [`JsonSchema`] for a message; used by `#[message]`.
#[doc(hidden)]
pub fn message_schema_name<M: Message>() -> Cow<'static, str> {
    Cow::Borrowed(M::NAME)
}

/// Client request for a `pong`: a connectivity check.
#[message(action = "ping")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PingMessage;

/// Reply to `ping`.
#[message(action = "pong")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PongMessage;

/// Error frame: a list of validation errors, `{"detail": ...}` for a handler failure,
/// or a topic error.
#[message(action = "error")]
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorMessage {
    /// The error description; see [`ErrorPayload`] for its three shapes.
    pub payload: ErrorPayload,
}

impl ErrorMessage {
    /// Validation errors.
    pub fn validation(errors: Vec<ErrorItem>) -> Self {
        ErrorMessage { payload: ErrorPayload::Validation(errors) }
    }
}

/// The payload of an `error` frame, in one of three shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ErrorPayload {
    /// Validation errors, `[{"type", "loc", "msg"}]`: `loc` is `[]` for the frame, else
    /// the action then the path.
    #[schemars(title = "ValidationErrors")]
    Validation(Vec<ErrorItem>),
    /// A topic error, `{"reason", "detail"}`.
    #[schemars(title = "TopicError")]
    Topic {
        /// Why the frame was refused.
        reason: TopicErrorReason,
        /// What happened, for people.
        detail: String,
    },
    /// A handler failed, `{"detail": "Failed to process message for <action>"}`; the
    /// failure itself is logged, never sent.
    #[schemars(title = "HandlerFailure")]
    Failure {
        /// What happened, for people.
        detail: String,
    },
}

/// The `reason` of a topic error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopicErrorReason {
    /// No topic type of the consumer matches the name.
    UnknownTopic,
    /// The topic's `authorize` refused the subscription.
    Unauthorized,
    /// The frame names a topic this connection has not subscribed to.
    NotSubscribed,
    /// The connection holds as many subscriptions as the app allows
    /// (`Settings::max_subscriptions`).
    // Plain text, not a rustdoc link: this text is the AsyncAPI document's too.
    TooManySubscriptions,
}

/// Client request to subscribe to the topic its frame names (`"topic"` envelope key).
#[message(action = "subscribe")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscribeMessage;

/// Confirms a subscription, echoing the request's `ref`.
#[message(action = "subscribed")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscribedMessage;

/// Client request to leave the topic its frame names.
#[message(action = "unsubscribe")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnsubscribeMessage;

/// Confirms an unsubscription (also of a topic that was never subscribed to).
#[message(action = "unsubscribed")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnsubscribedMessage;

/// Sent after each handled client frame when completion frames are on.
#[message(action = "complete")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompleteMessage;

/// Sent after each group broadcast frame when completion frames are on.
#[message(action = "group_complete")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCompleteMessage;

/// Sent after each handled server-side event when completion frames are on.
#[message(action = "event_complete")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCompleteMessage;

/// Payload of [`AuthenticationMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthenticationPayload {
    /// HTTP-like status of the authentication (`200` when accepted).
    pub status_code: u16,
    /// Reason phrase of the status (`"Forbidden"`).
    pub status_text: String,
    /// Details, such as `{"detail": "..."}`.
    pub data: Value,
}

/// Result of authentication, sent before the server closes a refused connection.
#[message(action = "authentication")]
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticationMessage {
    /// Status and details.
    pub payload: AuthenticationPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_message_round_trips_without_payload() {
        assert_eq!(serde_json::to_string(&PongMessage).unwrap(), r#"{"action":"pong","payload":null}"#);
        let ping: PingMessage = serde_json::from_str(r#"{"action":"ping"}"#).unwrap();
        assert_eq!(ping, PingMessage);
        assert!(serde_json::from_str::<PingMessage>(r#"{"action":"pong"}"#).is_err());
    }

    #[test]
    fn schema_has_required_action_const() {
        let schema = schemars::schema_for!(AuthenticationMessage);
        let value = schema.as_value();
        assert_eq!(value["properties"]["action"]["const"], "authentication");
        assert_eq!(value["required"], serde_json::json!(["action", "payload"]));
        let ping = schemars::schema_for!(PingMessage);
        assert_eq!(ping.as_value()["required"], serde_json::json!(["action"]));
    }
}
