//! Validation errors in the wire format (`type`, `loc`, `msg`), and the schema walk
//! that lists every invalid field of a payload when serde rejects it.
//!
//! serde stops at the first error; the wire protocol lists them all, in field order,
//! with pydantic's error types. So when decoding fails (the slow path only), the
//! payload is checked against the message's own JSON Schema (from schemars).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::message::{Message, Payload};

/// One validation error: `{"type": ..., "loc": [...], "msg": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorItem {
    /// Machine-readable error type, e.g. `missing` or `string_type`.
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// Where: `[]` for the frame, else the action then the path in the frame.
    pub loc: Vec<Loc>,
    /// Human-readable description.
    pub msg: String,
}

/// One step of an error location: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
        ErrorItem { kind: Cow::Borrowed(kind), loc, msg: msg.into() }
    }

    /// An error about the frame as a whole (`loc: []`).
    pub fn frame(kind: &'static str, msg: impl Into<String>) -> Self {
        ErrorItem::new(kind, Vec::new(), msg)
    }
}

/// The slow path of decoding: checks the payload against its schema, listing every
/// error; decodes it if the schema finds none (through a JSON value, where repeated
/// keys keep the last value, as in Python).
pub(crate) fn validate_payload<M: Message>(payload: Option<&str>) -> Result<M::Payload, Vec<ErrorItem>> {
    let mut loc = vec![Loc::from(M::ACTION), Loc::from("payload")];
    let Some(raw) = payload else {
        return Err(vec![ErrorItem::new("missing", loc, "Field required")]);
    };
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| vec![ErrorItem::new("value_error", loc.clone(), format!("Value error, {e}"))])?;
    let root = payload_schema::<M>();
    let root = root.as_ref();
    let mut walker = Walker { root, defs: root.get("$defs").and_then(Value::as_object), errors: Vec::new() };
    walker.walk(root, &value, &mut loc, None);
    if !walker.errors.is_empty() {
        return Err(walker.errors);
    }
    // The schema accepts it; what serde still refuses (a custom deserialiser, a
    // number out of range) is reported at the payload with serde's reason.
    M::Payload::deserialize_payload(value)
        .map_err(|e| vec![ErrorItem::new("value_error", loc, format!("Value error, {e}"))])
}

/// The JSON Schema of `M`'s payload, generated once per message type.
fn payload_schema<M: Message>() -> Arc<Value> {
    static SCHEMAS: LazyLock<RwLock<HashMap<TypeId, Arc<Value>>>> = LazyLock::new(RwLock::default);
    let key = TypeId::of::<M>();
    if let Some(schema) = SCHEMAS.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return schema.clone();
    }
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = M::Payload::payload_root_schema(generator).to_value();
    SCHEMAS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| Arc::new(schema))
        .clone()
}

struct Walker<'s> {
    root: &'s Value,
    defs: Option<&'s Map<String, Value>>,
    errors: Vec<ErrorItem>,
}

impl<'s> Walker<'s> {
    fn walk(&mut self, schema: &'s Value, value: &Value, loc: &mut Vec<Loc>, title: Option<&'s str>) {
        let Some(schema) = schema.as_object() else { return };
        let title = schema.get("title").and_then(Value::as_str).or(title);
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            // `#` is the root: a type that contains itself.
            if target == "#" {
                self.walk(self.root, value, loc, title);
                return;
            }
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
        // A choice of constants (a documented unit enum): name them all, as pydantic does.
        let constants: Option<Vec<&Value>> = branches.iter().map(|b| b.get("const")).collect();
        if let Some(constants) = constants.filter(|c| !c.is_empty()) {
            if !constants.contains(&value) {
                let listed: Vec<String> = constants.into_iter().map(quoted).collect();
                self.push("enum", loc, format!("Input should be {}", one_of(&listed)));
            }
            return;
        }
        let mut best: Option<Vec<ErrorItem>> = None;
        for branch in branches {
            let mut trial = Walker { root: self.root, defs: self.defs, errors: Vec::new() };
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
        if let Some((min, max)) = schema.get("format").and_then(Value::as_str).and_then(integer_range)
            && (number < min || number > max)
        {
            let msg = format!("Input should be between {min} and {max} ({})", schema["format"]);
            self.push("int_range", loc, msg);
            return;
        }
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

/// The range of an integer `format` that schemars writes for Rust's integer types.
fn integer_range(format: &str) -> Option<(f64, f64)> {
    Some(match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "uint8" => (0.0, u8::MAX.into()),
        "uint16" => (0.0, u16::MAX.into()),
        "uint32" => (0.0, u32::MAX.into()),
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use chanx_macros::message;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    /// A documented unit enum: schemars writes a `oneOf` of constants.
    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    enum Color {
        /// Red.
        Red,
        /// Blue.
        Blue,
    }

    #[message(action = "paint")]
    struct Paint(Color);

    #[test]
    fn a_bad_enum_value_names_every_variant() {
        let errors = validate_payload::<Paint>(Some(r#""Green""#)).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].kind.as_ref(), errors[0].msg.as_str()),
            ("enum", "Input should be 'Red' or 'Blue'")
        );
    }

    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    struct Node {
        name: String,
        children: Vec<Node>,
        weight: u8,
    }

    #[message(action = "tree")]
    struct Tree(Node);

    fn errors(payload: &str) -> Vec<(String, Vec<Loc>)> {
        match validate_payload::<Tree>(Some(payload)) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.kind.into_owned(), e.loc)).collect(),
        }
    }

    fn loc(path: &[&str]) -> Vec<Loc> {
        path.iter().map(|p| p.parse().map(Loc::Index).unwrap_or_else(|_| Loc::from(*p))).collect()
    }

    #[test]
    fn recursive_types_are_walked_to_the_bad_field() {
        let payload = r#"{"name":"a","weight":1,"children":[{"name":5,"weight":1,"children":[]}]}"#;
        assert_eq!(
            errors(payload),
            vec![("string_type".to_owned(), loc(&["tree", "payload", "children", "0", "name"]))]
        );
    }

    #[test]
    fn every_error_in_field_order_with_integer_ranges() {
        assert_eq!(
            errors(r#"{"weight":300,"children":{}}"#),
            vec![
                ("missing".to_owned(), loc(&["tree", "payload", "name"])),
                ("list_type".to_owned(), loc(&["tree", "payload", "children"])),
                ("int_range".to_owned(), loc(&["tree", "payload", "weight"])),
            ]
        );
    }
}
