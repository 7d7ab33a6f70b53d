//! The wire format: decoding the inbound envelope, encoding outbound frames.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::message::Message;
use crate::protocol::validate::{ErrorItem, Loc};

/// An inbound frame whose envelope is valid. Everything borrows the frame text.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// `Some` whenever the key is present, `null` included.
    pub action: Option<&'a RawValue>,
    /// `Some` whenever the key is present, `null` included.
    pub payload: Option<RawPayload<'a>>,
    /// The `ref` as raw JSON (a string), to echo byte for byte.
    pub reference: Option<&'a RawValue>,
    /// The topic subscription the frame is for; `None` for the consumer's own handlers.
    pub topic: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
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

/// The longest topic name a frame may carry: error frames echo it.
const MAX_TOPIC: usize = 256;

/// How much of a client's input an error message quotes.
const MAX_QUOTE: usize = 64;

/// `text`, or its first [`MAX_QUOTE`] bytes (at a character boundary) and `…`: an
/// error frame never repeats a huge input.
pub(crate) fn clip(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_QUOTE {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_QUOTE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// Keeps an explicit `null` as `Some("null")`, so that absent and null differ.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Parses and checks the envelope of a text frame. The errors are about the frame
/// itself (malformed JSON, not an object, a bad envelope key): they never echo `ref`.
pub(crate) fn parse(text: &str) -> Result<Envelope<'_>, Vec<ErrorItem>> {
    let raw: RawEnvelope<'_> = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(error) => last_key_wins(text).ok_or_else(|| vec![not_an_envelope(text, error)])?,
    };
    if !text.trim_start().starts_with('{') {
        // serde would read a struct from an array too; the wire wants an object.
        return Err(vec![not_an_object()]);
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
    let topic = match raw.topic.filter(|topic| topic.get() != "null") {
        Some(topic) => match string(topic) {
            Some(topic) if topic.len() > MAX_TOPIC => {
                errors.push(ErrorItem::new(
                    "string_too_long",
                    vec![Loc::from("topic")],
                    format!("String should have at most {MAX_TOPIC} characters"),
                ));
                None
            }
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
        return Err(errors);
    }
    let payload = raw.payload.map(RawPayload::from);
    Ok(Envelope { action: raw.action, payload, reference: raw.reference, topic })
}

/// A frame's payload: the JSON text of its value, read by `decode`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct RawPayload<'a> {
    text: &'a str,
    /// Whether `text` is known to be one JSON value. The payload of a frame read by
    /// [`canonical`] is not: it is one if it decodes, and the frame is parsed in full
    /// when it does not.
    checked: bool,
}

impl<'a> RawPayload<'a> {
    /// A payload whose text is one JSON value.
    pub(crate) fn checked(text: &'a str) -> Self {
        RawPayload { text, checked: true }
    }

    /// The payload's JSON text, without surrounding whitespace.
    pub(crate) fn get(self) -> &'a str {
        self.text
    }

    /// Whether the text is known to be one JSON value.
    pub(crate) fn is_checked(self) -> bool {
        self.checked
    }
}

impl<'a> From<&'a RawValue> for RawPayload<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawPayload::checked(raw.get())
    }
}

/// JSON's whitespace.
const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The action and payload of a frame in the shape clients send,
/// `{"action": "...", "payload": ...}` and nothing else (whitespace allowed between
/// tokens, an action without escapes), read without parsing the payload: the payload's
/// text is all that comes before the closing brace, and is only one JSON value if it
/// decodes (so the whole frame is valid). `None` for any other frame, which
/// [`parse`] reads in full.
pub(crate) fn canonical(text: &str) -> Option<(&str, RawPayload<'_>)> {
    let mut rest = text;
    for literal in ["{", "\"action\"", ":", "\""] {
        rest = token(rest, literal)?;
    }
    // The action ends at its closing quote; an escape or a control character first
    // sends the frame to the full parse.
    let end = rest.bytes().position(|byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
    if rest.as_bytes().get(end) != Some(&b'"') {
        return None;
    }
    let (action, mut rest) = (rest.get(..end)?, rest.get(end + 1..)?);
    for literal in [",", "\"payload\"", ":"] {
        rest = token(rest, literal)?;
    }
    let body = rest.trim_end_matches(JSON_SPACE).strip_suffix('}')?;
    if ends_with_other_member(body) {
        return None;
    }
    Some((action, RawPayload { text: body.trim_matches(JSON_SPACE), checked: false }))
}

/// Whether the members of an object (`body`, its closing brace taken off) visibly end
/// with one other than `payload`: `"key": value` at the end, a string or scalar value
/// and a key that is not `payload`. Clients put `ref` and `version` after the payload;
/// such a frame goes to the full parse at once instead of through a decode that would
/// fail on them. `false` when it cannot be told cheaply (an object or array at the end,
/// a string with escapes), and the decode decides.
fn ends_with_other_member(body: &str) -> bool {
    let bytes = body.trim_end_matches(JSON_SPACE).as_bytes();
    let start = match bytes.split_last() {
        Some((b'"', inner)) => match inner.iter().rposition(|byte| *byte == b'"') {
            Some(open) if !inner.get(open.saturating_sub(1)..).unwrap_or_default().contains(&b'\\') => open,
            _ => return false,
        },
        Some((last, _)) if last.is_ascii_alphanumeric() => bytes
            .iter()
            .rposition(|byte| !(byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'+' | b'.')))
            .map_or(0, |before| before + 1),
        _ => return false,
    };
    let key = bytes.get(..start).unwrap_or_default().trim_ascii_end().strip_suffix(b":");
    key.is_some_and(|key| {
        let key = key.trim_ascii_end();
        key.ends_with(b"\"") && !key.ends_with(b"\"payload\"")
    })
}

/// `text` after `literal` and the whitespace before it.
fn token<'a>(text: &'a str, literal: &str) -> Option<&'a str> {
    text.trim_start_matches(JSON_SPACE).strip_prefix(literal)
}

/// The envelope of an object that repeats a key, the last value winning as in Python
/// (the fast path refuses duplicate fields).
fn last_key_wins(text: &str) -> Option<RawEnvelope<'_>> {
    let map: HashMap<Cow<'_, str>, &RawValue> = serde_json::from_str(text).ok()?;
    let present = |key: &str| map.get(key).copied().filter(|raw| raw.get() != "null");
    Some(RawEnvelope {
        action: map.get("action").copied(),
        payload: map.get("payload").copied(),
        reference: present("ref"),
        version: present("version"),
        topic: present("topic"),
    })
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

/// `version` must be an integer, or what pydantic's lax mode takes for one: a float
/// without fraction, a numeric string, a boolean.
fn check_version(raw: &RawValue) -> Result<(), ErrorItem> {
    let loc = vec![Loc::from("version")];
    let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
    let whole = |n: f64| n.is_finite() && n.fract() == 0.0;
    match &value {
        serde_json::Value::Bool(_) => Ok(()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(whole) => Ok(()),
        serde_json::Value::Number(_) => Err(ErrorItem::new(
            "int_from_float",
            loc,
            "Input should be a valid integer, got a number with a fractional part",
        )),
        serde_json::Value::String(s) if s.trim().parse::<f64>().is_ok_and(whole) => Ok(()),
        serde_json::Value::String(_) => Err(ErrorItem::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
        )),
        _ => Err(ErrorItem::new("int_type", loc, "Input should be a valid integer")),
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
pub(crate) fn action<'a>(envelope: &Envelope<'a>, expected: &[&str]) -> Result<Cow<'a, str>, ErrorItem> {
    let Some(raw) = envelope.action else {
        return Err(ErrorItem::frame(
            "union_tag_not_found",
            "Unable to extract tag using discriminator 'action'",
        ));
    };
    match string(raw) {
        Some(action) => Ok(action),
        // Named as Python names it, so that the text matches Chanx's.
        None if raw.get() == "null" => Err(unknown_action("None", expected)),
        None => Err(unknown_action(raw.get(), expected)),
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
            "Input tag '{}' found using 'action' does not match any of the expected tags: {}",
            clip(action),
            listed.join(", ")
        ),
    )
}

/// The `action` and `ref` of an outgoing frame, read for the message log.
#[derive(Debug, Deserialize)]
pub(crate) struct Heading<'a> {
    /// The action, borrowed from the frame unless it has escapes.
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    /// The `ref` a reply echoes.
    #[serde(borrow, default, rename = "ref")]
    pub reference: Option<Cow<'a, str>>,
}

/// The heading of an outgoing frame; `None` for one without a string `action` (a
/// layer peer's frame, say), which is still logged, without its action.
pub(crate) fn heading(text: &str) -> Option<Heading<'_>> {
    serde_json::from_str(text).ok()
}

/// The envelope keys of an outgoing frame besides `action` and `payload`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keys<'a> {
    /// The request's `ref` as raw JSON (a string), echoed byte for byte.
    pub reference: Option<&'a str>,
    /// The topic the frame belongs to.
    pub topic: Option<&'a str>,
    /// The sequence number of a topic broadcast.
    pub seq: Option<u64>,
}

/// Encodes a message as a frame: `{"action": ..., "payload": ...}`, then `"version": 1`
/// when the frame carries `ref` or `topic`, then `topic`, `ref` and `seq`, in the
/// wire's key order. The one encoder of outgoing frames.
pub(crate) fn encode<M: Message>(message: &M, keys: Keys<'_>) -> Result<Utf8Bytes, serde_json::Error> {
    written(|out| {
        out.extend_from_slice(b"{\"action\":");
        serde_json::to_writer(&mut *out, M::ACTION)?;
        out.extend_from_slice(b",\"payload\":");
        serde_json::to_writer(&mut *out, &crate::protocol::message::AsSerde(message.payload()))?;
        close(out, keys)
    })
}

/// A frame `{"action": ..., "payload": ...}` (as [`encode`] writes it, without keys)
/// with the envelope `keys` added: how a passthrough topic event is stamped with its
/// topic and `seq`. `None` for a text that is no JSON object.
pub(crate) fn stamp(frame: &str, keys: Keys<'_>) -> Option<Utf8Bytes> {
    let body = frame.trim_end().strip_suffix('}')?;
    written(|out| {
        out.extend_from_slice(body.as_bytes());
        close(out, keys)
    })
    .ok()
}

/// Appends the envelope `keys` and the closing brace to a frame's action and payload.
fn close(out: &mut Vec<u8>, keys: Keys<'_>) -> Result<(), serde_json::Error> {
    if keys.reference.is_some() || keys.topic.is_some() {
        out.extend_from_slice(b",\"version\":1");
    }
    if let Some(topic) = keys.topic {
        out.extend_from_slice(b",\"topic\":");
        serde_json::to_writer(&mut *out, topic)?;
    }
    if let Some(reference) = keys.reference {
        out.extend_from_slice(b",\"ref\":");
        out.extend_from_slice(reference.as_bytes());
    }
    if let Some(seq) = keys.seq {
        out.extend_from_slice(b",\"seq\":");
        serde_json::to_writer(&mut *out, &seq)?;
    }
    out.push(b'}');
    Ok(())
}

/// The most a thread's frame buffer keeps between frames.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// Where this thread writes frames before copying each out at its exact size: no
    /// growth as a frame is written, and no second allocation for the frame's shared
    /// handle (`Bytes` from a `Vec` with spare room allocates one).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The frame `write` writes, copied out of the thread's buffer.
fn written(
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
) -> Result<Utf8Bytes, serde_json::Error> {
    SCRATCH.with(|scratch| {
        // A frame written while another is (a payload whose `Serialize` encodes a
        // frame) gets a buffer of its own.
        let mut own = Vec::new();
        let mut borrowed = scratch.try_borrow_mut();
        let out = match &mut borrowed {
            Ok(scratch) => &mut **scratch,
            Err(_) => &mut own,
        };
        out.clear();
        let frame = write(out).map(|()| {
            debug_assert!(std::str::from_utf8(out).is_ok(), "a frame is UTF-8");
            // SAFETY: every byte in `out` comes from serde_json's serializer, which
            // writes UTF-8 only (its own `to_string` relies on it the same way), or from
            // a `str` (the envelope's keys, `stamp`'s frame, `reference`).
            Utf8Bytes::from(unsafe { String::from_utf8_unchecked(out.to_vec()) })
        });
        if out.capacity() > SCRATCH_KEPT {
            *out = Vec::new();
        }
        frame
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::PongMessage;

    fn rejected(text: &str) -> Vec<ErrorItem> {
        match parse(text) {
            Err(errors) => errors,
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
        assert!(parse(r#"{"action":"ping","version":1.0}"#).is_ok());
        assert_eq!(rejected(r#"{"action":"ping","version":1.5}"#)[0].kind, "int_from_float");
        assert_eq!(rejected(r#"{"action":"ping","version":[]}"#)[0].kind, "int_type");
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let envelope = parse(r#"{"action":"ping","action":"user_message","payload":1}"#).unwrap();
        assert_eq!(action(&envelope, &[]).unwrap(), "user_message");
    }

    #[test]
    fn a_null_action_is_an_invalid_tag() {
        let envelope = parse(r#"{"action":null}"#).unwrap();
        let error = action(&envelope, &["ping"]).unwrap_err();
        assert_eq!(error.kind, "union_tag_invalid");
        assert!(error.msg.contains("'None'") && error.msg.contains("'ping'"), "{}", error.msg);
    }

    #[test]
    fn payload_null_differs_from_absent() {
        let with_null = parse(r#"{"action":"a","payload":null}"#).unwrap();
        assert_eq!(with_null.payload.map(RawPayload::get), Some("null"));
        assert!(parse(r#"{"action":"a"}"#).unwrap().payload.is_none());
    }

    #[test]
    fn huge_input_is_not_echoed() {
        let error = unknown_action(&"a".repeat(100_000), &["ping"]);
        assert!(error.msg.len() < 200, "{}", error.msg);
        assert!(clip("é".repeat(40).as_str()).ends_with('…'));
        let topic = format!(r#"{{"action":"ping","topic":"{}"}}"#, "t".repeat(300));
        assert_eq!(rejected(&topic)[0].kind, "string_too_long");
    }

    #[test]
    fn escaped_action_is_decoded() {
        let envelope = parse(r#"{"action":"a\u0062"}"#).unwrap();
        assert_eq!(action(&envelope, &[]).unwrap(), "ab");
    }

    #[test]
    fn the_heading_of_an_outgoing_frame_is_read_in_any_key_order() {
        let read = heading(r#"{"ref":"r\u0031","payload":{"action":"x"},"action":"pong"}"#).unwrap();
        assert_eq!((&*read.action, read.reference.as_deref()), ("pong", Some("r1")));
        assert!(heading(r#"{"payload":null}"#).is_none());
        assert!(heading(r#"{"action":5}"#).is_none());
    }

    #[test]
    fn a_topic_is_read_and_null_means_none() {
        assert_eq!(parse(r#"{"action":"a","topic":"room:x"}"#).unwrap().topic.as_deref(), Some("room:x"));
        assert_eq!(parse(r#"{"action":"a","topic":null}"#).unwrap().topic, None);
        assert_eq!(rejected(r#"{"action":"a","topic":5}"#)[0].kind, "string_type");
    }

    #[test]
    fn a_stamped_frame_gets_the_keys_in_wire_order() {
        let keys = Keys { topic: Some("room:lobby"), seq: Some(5), ..Keys::default() };
        let frame = stamp(r#"{"action":"a","payload":{"x":1}}"#, keys).unwrap();
        assert_eq!(
            frame.as_str(),
            r#"{"action":"a","payload":{"x":1},"version":1,"topic":"room:lobby","seq":5}"#
        );
        assert!(stamp("[1]", keys).is_none());
    }

    #[test]
    fn encode_writes_the_envelope_keys_in_wire_order() {
        let frame = encode(&PongMessage, Keys { reference: Some("\"r1\""), ..Keys::default() }).unwrap();
        assert_eq!(frame.as_str(), r#"{"action":"pong","payload":null,"version":1,"ref":"r1"}"#);
        let keys = Keys { reference: Some("\"2\""), topic: Some("room:lobby"), seq: Some(5) };
        let frame = encode(&PongMessage, keys).unwrap();
        assert_eq!(
            frame.as_str(),
            r#"{"action":"pong","payload":null,"version":1,"topic":"room:lobby","ref":"2","seq":5}"#
        );
        assert_eq!(
            encode(&PongMessage, Keys::default()).unwrap().as_str(),
            r#"{"action":"pong","payload":null}"#
        );
    }

    #[test]
    fn the_usual_shape_is_read_without_its_payload_parsed() {
        let read =
            |text| canonical(text).map(|(action, payload)| (action, payload.get(), payload.is_checked()));
        assert_eq!(read(r#"{"action":"echo","payload":{"a":[1]}}"#), Some(("echo", r#"{"a":[1]}"#, false)));
        assert_eq!(read(" {\"action\" : \"é\",\n\"payload\": null } \r\n"), Some(("é", "null", false)));
        assert_eq!(read(r#"{"action":"a","payload":"b:c"}"#), Some(("a", r#""b:c""#, false)));
        assert_eq!(read(r#"{"action":"a","payload":-1.5e3}"#), Some(("a", "-1.5e3", false)));
        // What follows the payload is its text's, when it cannot be told at once: it
        // decodes only if nothing follows.
        let escaped = r#"{"action":"a","payload":1,"ref":"r\"s"}"#;
        assert_eq!(read(escaped), Some(("a", r#"1,"ref":"r\"s""#, false)));
        assert_eq!(read(r#"{"action":"a","payload":1,"x":{"y":2}}"#), Some(("a", r#"1,"x":{"y":2}"#, false)));
        for other in [
            r#"{"action":"a"}"#,
            r#"{"payload":1,"action":"a"}"#,
            r#"{"action":"a\"b","payload":1}"#,
            "{\"action\":\"a\u{1}\",\"payload\":1}",
            r#"{"action":1,"payload":1}"#,
            r#"{"action":"a","payload":1"#,
            r#"{"action":"a","ref":"r","payload":1}"#,
            r#"{"action":"a","payload":{"b":1},"ref":"r"}"#,
            r#"{"action":"a","payload":{"b":1}, "version" : 1 }"#,
            r#"{"action":"a","payload":null,"version":1,"ref":"r-1"}"#,
            r#"["action","a"]"#,
        ] {
            assert_eq!(read(other), None, "{other}");
        }
    }
}
