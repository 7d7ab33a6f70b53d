//! The wire format: decoding the inbound envelope, encoding outbound frames.

use std::borrow::Cow;

use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::validate::{ErrorItem, Loc};

/// An inbound frame whose envelope is valid. Everything borrows the frame text.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    pub action: Option<&'a RawValue>,
    /// `Some` whenever the key is present, `null` included.
    pub payload: Option<&'a RawValue>,
    /// The `ref` as raw JSON (a string), to echo byte for byte.
    pub reference: Option<&'a RawValue>,
}

/// Why an inbound frame was refused before reaching a handler.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// Malformed JSON, not an object, or a bad envelope key (never echoes `ref`).
    Frame(Vec<ErrorItem>),
    /// The frame names a topic this connection has not subscribed to.
    NotSubscribed(String),
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "ref")]
    reference: Option<&'a RawValue>,
    #[serde(borrow, default)]
    version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    topic: Option<&'a RawValue>,
}

/// Keeps an explicit `null` as `Some("null")`, so that absent and null differ.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Parses and checks the envelope of a text frame.
pub(crate) fn parse(text: &str) -> Result<Envelope<'_>, Rejection> {
    let raw: RawEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| Rejection::Frame(vec![not_an_envelope(text, e)]))?;
    if !text.trim_start().starts_with('{') {
        // serde would read a struct from an array too; the wire wants an object.
        return Err(Rejection::Frame(vec![not_an_object()]));
    }
    let mut errors = Vec::new();
    if let Some(reference) = raw.reference
        && !reference.get().starts_with('"')
    {
        errors.push(ErrorItem::new("string_type", vec![Loc::from("ref")], "Input should be a valid string"));
    }
    if let Some(version) = raw.version
        && let Err(error) = check_version(version)
    {
        errors.push(error);
    }
    let topic = match raw.topic {
        Some(topic) => match string(topic) {
            Some(topic) => Some(topic),
            None => {
                errors.push(ErrorItem::new(
                    "string_type",
                    vec![Loc::from("topic")],
                    "Input should be a valid string",
                ));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(Rejection::Frame(errors));
    }
    if let Some(topic) = topic {
        return Err(Rejection::NotSubscribed(topic.into_owned()));
    }
    Ok(Envelope { action: raw.action, payload: raw.payload, reference: raw.reference })
}

/// The error for a frame that is not a JSON object with valid envelope keys.
fn not_an_envelope(text: &str, error: serde_json::Error) -> ErrorItem {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => not_an_object(),
        Err(_) => ErrorItem::frame("json_invalid", format!("Invalid JSON: {error}")),
    }
}

fn not_an_object() -> ErrorItem {
    ErrorItem::frame("model_type", "Input should be a valid dictionary or instance of Envelope")
}

/// `version` must be an integer (or a string holding one, as pydantic accepts).
fn check_version(raw: &RawValue) -> Result<(), ErrorItem> {
    let text = raw.get();
    let loc = vec![Loc::from("version")];
    if text.parse::<i64>().is_ok() {
        return Ok(());
    }
    match string(raw) {
        Some(s) if s.trim().parse::<i64>().is_ok() => Ok(()),
        Some(_) => Err(ErrorItem::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
        )),
        None => Err(ErrorItem::new("int_type", loc, "Input should be a valid integer")),
    }
}

/// The string a raw JSON value holds, without copying when it has no escapes.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// The action of an envelope, or the error that replaces the handler's answer.
pub(crate) fn action<'a>(envelope: &Envelope<'a>) -> Result<Cow<'a, str>, ErrorItem> {
    let raw = envelope.action.ok_or_else(|| {
        ErrorItem::frame("union_tag_not_found", "Unable to find the 'action' field (the message tag)")
    })?;
    match string(raw) {
        Some(action) => Ok(action),
        None if raw.get() == "null" => Err(ErrorItem::frame(
            "union_tag_not_found",
            "Unable to find the 'action' field (the message tag)",
        )),
        None => Err(ErrorItem::frame(
            "union_tag_invalid",
            format!("Input tag {} found using 'action' is not a string", raw.get()),
        )),
    }
}

/// The error for an action no handler takes, listing the expected ones sorted.
pub(crate) fn unknown_action(action: &str, expected: &[&str]) -> ErrorItem {
    let mut sorted: Vec<&str> = expected.to_vec();
    sorted.sort_unstable();
    let listed: Vec<String> = sorted.iter().map(|a| format!("'{a}'")).collect();
    ErrorItem::frame(
        "union_tag_invalid",
        format!(
            "Input tag '{action}' found using 'action' does not match any of the expected tags: {}",
            listed.join(", ")
        ),
    )
}

/// Encodes `{"action": ..., "payload": ...}`, plus `"version": 1, "ref": ...` when the
/// frame answers a request that carried a `ref`.
pub(crate) fn encode<P: Serialize + ?Sized>(
    action: &str,
    payload: &P,
    reference: Option<&str>,
) -> Result<Utf8Bytes, serde_json::Error> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"{\"action\":");
    serde_json::to_writer(&mut out, action)?;
    out.extend_from_slice(b",\"payload\":");
    serde_json::to_writer(&mut out, payload)?;
    if let Some(reference) = reference {
        out.extend_from_slice(b",\"version\":1,\"ref\":");
        out.extend_from_slice(reference.as_bytes());
    }
    out.push(b'}');
    // serde_json writes UTF-8 only, and `reference` is a JSON string taken from a `str`.
    String::from_utf8(out).map(Utf8Bytes::from).map_err(serde::ser::Error::custom)
}

/// Encodes a topic error: `{"reason": ..., "detail": ...}` with `version` and `topic`.
pub(crate) fn encode_topic_error(
    reason: &str,
    detail: &str,
    topic: &str,
) -> Result<Utf8Bytes, serde_json::Error> {
    #[derive(Serialize)]
    struct TopicError<'a> {
        action: &'static str,
        payload: TopicErrorPayload<'a>,
        version: u8,
        topic: &'a str,
    }
    #[derive(Serialize)]
    struct TopicErrorPayload<'a> {
        reason: &'a str,
        detail: &'a str,
    }
    let frame =
        TopicError { action: "error", payload: TopicErrorPayload { reason, detail }, version: 1, topic };
    serde_json::to_string(&frame).map(Utf8Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str) -> Vec<ErrorItem> {
        match parse(text) {
            Err(Rejection::Frame(errors)) => errors,
            other => panic!("expected a frame rejection for {text}, got {other:?}"),
        }
    }

    #[test]
    fn envelope_errors_have_the_wire_types() {
        assert_eq!(rejected("not json")[0].kind, "json_invalid");
        assert_eq!(rejected("")[0].kind, "json_invalid");
        assert_eq!(rejected("[1,2,3]")[0].kind, "model_type");
        assert_eq!(rejected("\"hello\"")[0].kind, "model_type");
        assert_eq!(rejected(r#"{"action":"ping","ref":5}"#)[0].kind, "string_type");
        assert_eq!(rejected(r#"{"action":"ping","version":"abc"}"#)[0].kind, "int_parsing");
        assert!(parse(r#"{"action":"ping","version":"2"}"#).is_ok());
    }

    #[test]
    fn payload_null_differs_from_absent() {
        let with_null = parse(r#"{"action":"a","payload":null}"#).unwrap();
        assert_eq!(with_null.payload.map(RawValue::get), Some("null"));
        assert!(parse(r#"{"action":"a"}"#).unwrap().payload.is_none());
    }

    #[test]
    fn escaped_action_is_decoded() {
        let envelope = parse(r#"{"action":"a\u0062"}"#).unwrap();
        assert_eq!(action(&envelope).unwrap(), "ab");
    }

    #[test]
    fn encode_echoes_ref_after_version() {
        let frame = encode("pong", &(), Some("\"r1\"")).unwrap();
        assert_eq!(frame.as_str(), r#"{"action":"pong","payload":null,"version":1,"ref":"r1"}"#);
    }
}
