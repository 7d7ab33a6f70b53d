//! Validation errors in the wire format (`type`, `loc`, `msg`), and the schema walk
//! that lists every invalid field of a payload when serde rejects it.
//!
//! serde stops at the first error; the wire protocol lists them all, in field order,
//! with pydantic's error types. So when decoding fails (the slow path only), the
//! payload is checked against the message's own JSON Schema (from schemars).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::message::Message;

/// One validation error: `{"type": ..., "loc": [...], "msg": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorItem {
    /// Machine-readable error type, e.g. `missing` or `string_type`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where: `[]` for the frame, else the action then the path in the frame.
    pub loc: Vec<Loc>,
    /// Human-readable description.
    pub msg: String,
}

/// One step of an error location: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Loc {
    /// Object key.
    Key(String),
    /// Array index.
    Index(usize),
}

impl From<&str> for Loc {
    fn from(key: &str) -> Self {
        Loc::Key(key.to_owned())
    }
}

impl ErrorItem {
    /// An error with a location.
    pub fn new(kind: &'static str, loc: Vec<Loc>, msg: impl Into<String>) -> Self {
        ErrorItem { kind, loc, msg: msg.into() }
    }

    /// An error about the frame as a whole (`loc: []`).
    pub fn frame(kind: &'static str, msg: impl Into<String>) -> Self {
        ErrorItem::new(kind, Vec::new(), msg)
    }
}

/// Lists every validation error of a payload that `M::Payload` failed to decode.
pub(crate) fn validate_payload<M: Message>(
    payload: Option<&RawValue>,
    error: &serde_json::Error,
) -> Vec<ErrorItem> {
    let mut loc = vec![Loc::from(M::ACTION), Loc::from("payload")];
    let Some(raw) = payload else {
        return vec![ErrorItem::new("missing", loc, "Field required")];
    };
    let value: Value = match serde_json::from_str(raw.get()) {
        Ok(value) => value,
        Err(_) => Value::Null,
    };
    let root = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<M::Payload>();
    let root = root.as_value();
    let mut walker = Walker { defs: root.get("$defs").and_then(Value::as_object), errors: Vec::new() };
    walker.walk(root, &value, &mut loc, None);
    if walker.errors.is_empty() {
        // The schema accepted what serde refused (a custom deserialiser, say): report
        // serde's own reason at the payload.
        walker.errors.push(ErrorItem::new("value_error", loc, error.to_string()));
    }
    walker.errors
}

struct Walker<'s> {
    defs: Option<&'s Map<String, Value>>,
    errors: Vec<ErrorItem>,
}

impl<'s> Walker<'s> {
    fn walk(&mut self, schema: &'s Value, value: &Value, loc: &mut Vec<Loc>, title: Option<&'s str>) {
        let Some(schema) = schema.as_object() else { return };
        let title = schema.get("title").and_then(Value::as_str).or(title);
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let name = target.rsplit('/').next().unwrap_or(target);
            if let Some(resolved) = self.defs.and_then(|defs| defs.get(name)) {
                self.walk(resolved, value, loc, Some(name));
            }
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                self.union(branches, value, loc, title);
                return;
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.walk(part, value, loc, title);
            }
        }
        if let Some(expected) = schema.get("const") {
            if value != expected {
                self.push("literal_error", loc, format!("Input should be {}", quoted(expected)));
            }
            return;
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            if !choices.contains(value) {
                let listed: Vec<String> = choices.iter().map(quoted).collect();
                self.push("enum", loc, format!("Input should be {}", one_of(&listed)));
            }
            return;
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return,
        };
        match types.iter().find(|t| has_type(value, t)) {
            Some(&"object") => self.object(schema, value, loc),
            Some(&"array") => self.array(schema, value, loc),
            Some(&("integer" | "number")) => self.bounds(schema, value, loc),
            Some(&"string") => self.length(schema, value, loc),
            Some(_) => {}
            None => {
                let expected = types.iter().find(|t| **t != "null").unwrap_or(&"null");
                let (kind, msg) = type_error(expected, value, title);
                self.push(kind, loc, msg);
            }
        }
    }

    fn union(&mut self, branches: &'s [Value], value: &Value, loc: &mut Vec<Loc>, title: Option<&'s str>) {
        let mut best: Option<Vec<ErrorItem>> = None;
        for branch in branches {
            let mut trial = Walker { defs: self.defs, errors: Vec::new() };
            trial.walk(branch, value, loc, title);
            if trial.errors.is_empty() {
                return;
            }
            let is_null_branch = branch.get("type").and_then(Value::as_str) == Some("null");
            if !is_null_branch && best.as_ref().is_none_or(|b| trial.errors.len() < b.len()) {
                best = Some(trial.errors);
            }
        }
        self.errors.extend(
            best.unwrap_or_else(|| {
                vec![ErrorItem::new("none_required", loc.clone(), "Input should be None")]
            }),
        );
    }

    fn object(&mut self, schema: &'s Map<String, Value>, value: &Value, loc: &mut Vec<Loc>) {
        let Some(object) = value.as_object() else { return };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, property) in properties.into_iter().flatten() {
            loc.push(Loc::Key(key.clone()));
            match object.get(key) {
                Some(field) => self.walk(property, field, loc, None),
                None if required.contains(&key.as_str()) => self.push("missing", loc, "Field required"),
                None => {}
            }
            loc.pop();
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|s| s.is_object()) {
            for (key, field) in object {
                if properties.is_some_and(|p| p.contains_key(key)) {
                    continue;
                }
                loc.push(Loc::Key(key.clone()));
                self.walk(extra, field, loc, None);
                loc.pop();
            }
        }
    }

    fn array(&mut self, schema: &'s Map<String, Value>, value: &Value, loc: &mut Vec<Loc>) {
        let Some(items) = value.as_array() else { return };
        if let Some(min) =
            schema.get("minItems").and_then(Value::as_u64).filter(|m| (items.len() as u64) < *m)
        {
            self.push("too_short", loc, format!("List should have at least {min} items"));
        }
        if let Some(max) =
            schema.get("maxItems").and_then(Value::as_u64).filter(|m| (items.len() as u64) > *m)
        {
            self.push("too_long", loc, format!("List should have at most {max} items"));
        }
        if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
            for (index, item) in items.iter().enumerate() {
                loc.push(Loc::Index(index));
                self.walk(item_schema, item, loc, None);
                loc.pop();
            }
        }
    }

    fn bounds(&mut self, schema: &Map<String, Value>, value: &Value, loc: &[Loc]) {
        let Some(number) = value.as_f64() else { return };
        if let Some(min) = schema.get("minimum").filter(|m| m.as_f64().is_some_and(|m| number < m)) {
            self.push("greater_than_equal", loc, format!("Input should be greater than or equal to {min}"));
        }
        if let Some(max) = schema.get("maximum").filter(|m| m.as_f64().is_some_and(|m| number > m)) {
            self.push("less_than_equal", loc, format!("Input should be less than or equal to {max}"));
        }
    }

    fn length(&mut self, schema: &Map<String, Value>, value: &Value, loc: &[Loc]) {
        let Some(text) = value.as_str() else { return };
        let chars = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64).filter(|m| chars < *m) {
            self.push("string_too_short", loc, format!("String should have at least {min} characters"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64).filter(|m| chars > *m) {
            self.push("string_too_long", loc, format!("String should have at most {max} characters"));
        }
    }

    fn push(&mut self, kind: &'static str, loc: &[Loc], msg: impl Into<String>) {
        self.errors.push(ErrorItem::new(kind, loc.to_vec(), msg));
    }
}

/// Whether `value` is of JSON Schema type `ty`, as serde would accept it.
fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// The error type and text for a value that is not of the expected JSON type.
fn type_error(expected: &str, value: &Value, title: Option<&str>) -> (&'static str, String) {
    let is_string = value.is_string();
    match expected {
        "object" => match title {
            Some(name) => ("model_type", format!("Input should be a valid dictionary or instance of {name}")),
            None => ("dict_type", "Input should be a valid dictionary".into()),
        },
        "string" => ("string_type", "Input should be a valid string".into()),
        "integer" if is_string => {
            ("int_parsing", "Input should be a valid integer, unable to parse string as an integer".into())
        }
        "integer" if value.is_f64() => {
            ("int_from_float", "Input should be a valid integer, got a number with a fractional part".into())
        }
        "integer" => ("int_type", "Input should be a valid integer".into()),
        "number" if is_string => {
            ("float_parsing", "Input should be a valid number, unable to parse string as a number".into())
        }
        "number" => ("float_type", "Input should be a valid number".into()),
        "boolean" if is_string => {
            ("bool_parsing", "Input should be a valid boolean, unable to interpret input".into())
        }
        "boolean" => ("bool_type", "Input should be a valid boolean".into()),
        "array" => ("list_type", "Input should be a valid list".into()),
        _ => ("none_required", "Input should be None".into()),
    }
}

fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`.
pub(crate) fn one_of(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
