//! camelCase on the wire ([`Settings::camelize`](crate::Settings::camelize),
//! `#[channel(camelize)]`): the object keys of a JSON text renamed with the rules of
//! pyhumps 3.8, the library Python Chanx camelizes with, so that both frameworks put
//! the same keys on the wire.
//!
//! A key that is all upper case (`HTTP_RESPONSE`, `ID`) or all digits is left as it is;
//! white space is dropped from the others. [`camelize`] lowers the first character
//! unless the first two are upper case (`HTTPResponse` stays), and turns each run of
//! `_` or `-` that follows a character and precedes another into that character in
//! upper case (`api_key` → `apiKey`); leading and trailing underscores stay
//! (`_private`, `__dunder__`). [`decamelize`] writes acronyms as words
//! (`HTTPResponse` → `http_response`) and puts `_` before each upper-case letter.
//!
//! Keys only: values (an `action`, the strings of an error's `loc`) are never touched,
//! and the envelope's keys (`action`, `payload`, `version`, `topic`, `ref`, `seq`) are
//! single words that both functions leave alone. The functions read characters as
//! Python does, with one approximation: a non-ASCII numeral that is no decimal digit
//! (`²`) counts as a digit in an acronym.

use std::borrow::Cow;

/// Python's `str.isspace`: Rust's white space plus the ASCII separators 0x1C to 0x1F.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A character that has upper and lower case forms but is neither (`ǅ`): Python's
/// titlecase letters, which make `str.isupper` false.
fn is_titlecase(c: char) -> bool {
    !c.is_ascii()
        && !c.is_uppercase()
        && !c.is_lowercase()
        && c.to_uppercase().ne(std::iter::once(c))
        && c.to_lowercase().ne(std::iter::once(c))
}

/// Python's `str.isupper`: some upper-case character, no lower- or titlecase one.
fn is_upper(s: &str) -> bool {
    let mut upper = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        upper |= c.is_uppercase();
    }
    upper
}

/// Python's `str.isnumeric`.
fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.chars().all(char::is_numeric)
}

/// The key without white space (pyhumps' `_is_none`), and whether it is left as it is.
fn prepare(key: &str) -> (Cow<'_, str>, bool) {
    let s = if key.chars().any(is_space) {
        Cow::Owned(key.chars().filter(|c| !is_space(*c)).collect())
    } else {
        Cow::Borrowed(key)
    };
    let kept = is_upper(&s) || is_numeric(&s);
    (s, kept)
}

fn is_separator(c: char) -> bool {
    c == '_' || c == '-'
}

/// `key` in camelCase, as pyhumps' `camelize`: `user_name` → `userName`,
/// `UserName` → `userName`, `HTTPResponse` and `HTTP_RESPONSE` unchanged.
pub(crate) fn camelize(key: &str) -> Cow<'_, str> {
    // Without separators or space, only a leading upper-case letter can change.
    if !key.contains(['_', '-'])
        && !key.chars().any(is_space)
        && key.chars().next().is_none_or(|c| !c.is_uppercase() && !is_titlecase(c))
    {
        return Cow::Borrowed(key);
    }
    let (s, kept) = prepare(key);
    if kept {
        return Cow::Borrowed(key);
    }
    let mut chars = s.chars();
    let first_two: String = s.chars().take(2).collect();
    let mut lowered = String::with_capacity(s.len() + 2);
    match chars.next() {
        Some(first) if !is_upper(&first_two) => lowered.extend(first.to_lowercase()),
        Some(first) => lowered.push(first),
        None => {}
    }
    lowered.extend(chars);
    // `(?<=[^\-_])[\-_]+[^\-_]`: a run of separators after a character, and the
    // character after the run in upper case.
    let chars: Vec<char> = lowered.chars().collect();
    let mut out = String::with_capacity(lowered.len());
    let mut i = 0;
    while i < chars.len() {
        if is_separator(chars[i]) && i > 0 && !is_separator(chars[i - 1]) {
            let mut end = i;
            while end < chars.len() && is_separator(chars[end]) {
                end += 1;
            }
            if let Some(next) = chars.get(end) {
                out.extend(next.to_uppercase());
                i = end + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    if out == key { Cow::Borrowed(key) } else { Cow::Owned(out) }
}

/// The characters of pyhumps' acronym pattern, `[A-Z\d]`.
fn in_acronym(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// `key` in snake_case, as pyhumps' `decamelize`: `userName` → `user_name`,
/// `HTTPResponse` → `http_response`, `HTTP_RESPONSE` unchanged.
pub(crate) fn decamelize(key: &str) -> Cow<'_, str> {
    // Without upper-case letters or space, lowering changes nothing either.
    if key.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase() && !is_space(char::from(b))) {
        return Cow::Borrowed(key);
    }
    let (s, kept) = prepare(key);
    if kept {
        return Cow::Borrowed(key);
    }
    let mut chars: Vec<char> = s.chars().collect();
    // `([A-Z\d]+)(?=[A-Z\d]|$)`, titled: in a run of capitals and digits, each letter
    // that follows a letter is lowered, but the run's last letter starts the next word
    // unless the run ends the key (`HTTPResponse` → `HttpResponse`).
    let mut start = 0;
    while start < chars.len() {
        if !in_acronym(chars[start]) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < chars.len() && in_acronym(chars[end]) {
            end += 1;
        }
        let titled = if end == chars.len() { end } else { end - 1 };
        let mut after_letter = false;
        for c in &mut chars[start..titled] {
            if c.is_ascii_uppercase() {
                if after_letter {
                    *c = c.to_ascii_lowercase();
                }
                after_letter = true;
            } else {
                after_letter = false;
            }
        }
        start = end;
    }
    // `([\-_]*[A-Z][^A-Z]*[\-_]*)` as `re.split` uses it, the pieces joined with `_`:
    // each capital starts a piece, with the separators right before the first one.
    let mut out = String::with_capacity(s.len() + 8);
    let first = chars.iter().position(char::is_ascii_uppercase);
    let split = first.map(|at| {
        let mut from = at;
        while from > 0 && is_separator(chars[from - 1]) {
            from -= 1;
        }
        (from, at)
    });
    for (i, c) in chars.iter().enumerate() {
        let starts_piece = match split {
            Some((from, _)) if i == from => from > 0,
            Some((_, at)) => i > at && c.is_ascii_uppercase(),
            None => false,
        };
        if starts_piece {
            out.push('_');
        }
        out.push(*c);
    }
    let out = out.to_lowercase();
    if out == key { Cow::Borrowed(key) } else { Cow::Owned(out) }
}

/// `json` (valid JSON) with every object key renamed by `rename`, at any depth, the
/// rest byte for byte; borrowed when no key changes. Keys are found by the `:` after
/// them, so nothing is parsed into a tree.
fn rename_keys(json: &str, rename: for<'k> fn(&'k str) -> Cow<'k, str>) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        let mut escaped = false;
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                escaped = true;
                i += 1;
            }
            i += 1;
        }
        let end = i.min(bytes.len());
        i = end + 1;
        let mut next = i;
        while next < bytes.len() && matches!(bytes[next], b' ' | b'\t' | b'\n' | b'\r') {
            next += 1;
        }
        if bytes.get(next) != Some(&b':') {
            continue;
        }
        let key: Cow<'_, str> = if escaped {
            match serde_json::from_str::<String>(&json[start..=end]) {
                Ok(key) => Cow::Owned(key),
                Err(_) => continue,
            }
        } else {
            Cow::Borrowed(&json[start + 1..end])
        };
        let renamed = rename(&key);
        if renamed == key {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(json.len()));
        out.push_str(&json[copied..start]);
        // A string always serializes.
        out.push_str(&serde_json::to_string(&*renamed).unwrap_or_default());
        copied = end + 1;
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut out) => {
            out.push_str(&json[copied..]);
            Cow::Owned(out)
        }
    }
}

/// A JSON text with its object keys camelized, at any depth (an outgoing frame).
pub(crate) fn camelize_keys(json: &str) -> Cow<'_, str> {
    rename_keys(json, camelize)
}

/// A JSON text with its object keys decamelized, at any depth (a client's payload).
pub(crate) fn decamelize_keys(json: &str) -> Cow<'_, str> {
    rename_keys(json, decamelize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(key, humps.camelize(key), humps.decamelize(key))`, as pyhumps 3.8.0 computes
    /// them (`python -c "import humps; print(humps.camelize(k), humps.decamelize(k))"`).
    const PYHUMPS: &[(&str, &str, &str)] = &[
        ("user_name", "userName", "user_name"),
        ("HTTPResponse", "HTTPResponse", "http_response"),
        ("api_key", "apiKey", "api_key"),
        ("APIKey", "APIKey", "api_key"),
        ("_private", "_private", "_private"),
        ("__dunder__", "__dunder__", "__dunder__"),
        ("__foo_bar", "__fooBar", "__foo_bar"),
        ("user_id2", "userId2", "user_id2"),
        ("v2_api", "v2Api", "v2_api"),
        ("v2Api", "v2Api", "v2_api"),
        ("already_camelCase", "alreadyCamelCase", "already_camel_case"),
        ("userName", "userName", "user_name"),
        ("UserName", "userName", "user_name"),
        ("HTTP_RESPONSE", "HTTP_RESPONSE", "HTTP_RESPONSE"),
        ("ID", "ID", "ID"),
        ("id", "id", "id"),
        ("a1b2", "a1b2", "a1b2"),
        ("123", "123", "123"),
        ("12_34", "1234", "12_34"),
        ("foo__bar", "fooBar", "foo__bar"),
        ("foo_-_bar", "fooBar", "foo_-_bar"),
        ("foo-bar", "fooBar", "foo-bar"),
        ("foo_", "foo_", "foo_"),
        ("_", "_", "_"),
        ("", "", ""),
        ("a", "a", "a"),
        ("A", "A", "A"),
        ("AB", "AB", "AB"),
        ("ABc", "ABc", "a_bc"),
        ("getHTTPResponseCode", "getHTTPResponseCode", "get_http_response_code"),
        ("response_200_ok", "response200Ok", "response_200_ok"),
        ("ok200", "ok200", "ok200"),
        ("Ok200Ok", "ok200Ok", "ok200_ok"),
        ("a_b_c", "aBC", "a_b_c"),
        ("a_b_C", "aBC", "a_b__c"),
        ("fooBar_Baz", "fooBarBaz", "foo_bar__baz"),
        ("foo__Bar", "fooBar", "foo___bar"),
        ("hello world", "helloworld", "helloworld"),
        ("ÉtéVille", "étéVille", "été_ville"),
        ("über_cool", "überCool", "über_cool"),
        ("straße_x", "straßeX", "straße_x"),
        ("x_ß", "xSS", "x_ß"),
        ("simpleXMLParser", "simpleXMLParser", "simple_xml_parser"),
        ("X", "X", "X"),
        ("x_y", "xY", "x_y"),
        ("_x_y", "_xY", "_x_y"),
        ("html5_parser", "html5Parser", "html5_parser"),
        ("HTML5Parser", "HTML5Parser", "html5_parser"),
        ("page_2", "page2", "page_2"),
        ("item2Count", "item2Count", "item2_count"),
        ("some_ID", "someID", "some__id"),
        ("someID", "someID", "some_id"),
        ("loc", "loc", "loc"),
        ("msg", "msg", "msg"),
    ];

    #[test]
    fn keys_are_renamed_as_pyhumps_renames_them() {
        for (key, camel, snake) in PYHUMPS {
            assert_eq!(camelize(key), *camel, "camelize({key:?})");
            assert_eq!(decamelize(key), *snake, "decamelize({key:?})");
        }
    }

    #[test]
    fn unchanged_keys_are_borrowed() {
        for key in ["action", "payload", "ref", "userName", "HTTPResponse", "_private", "ID"] {
            assert!(matches!(camelize(key), Cow::Borrowed(_)), "{key}");
        }
        for key in ["action", "user_name", "ID", "__dunder__"] {
            assert!(matches!(decamelize(key), Cow::Borrowed(_)), "{key}");
        }
    }

    #[test]
    fn only_keys_are_renamed_at_any_depth() {
        let text = r#"{"action":"user_name","payload":{"user_name":"first_name","tags":["a_b"],
            "nested_list":[{"inner_key" : 1}], "api_key":null},"ref":"r_1"}"#;
        let expected = r#"{"action":"user_name","payload":{"userName":"first_name","tags":["a_b"],
            "nestedList":[{"innerKey" : 1}], "apiKey":null},"ref":"r_1"}"#;
        assert_eq!(camelize_keys(text), expected);
        assert_eq!(decamelize_keys(expected), text);
    }

    #[test]
    fn strings_with_escapes_and_colons_are_read_whole() {
        let text = r#"{"a\"_b:":"c_d:","e\u005ff":{"g_h":"\\"}}"#;
        assert_eq!(camelize_keys(text), r#"{"a\"B:":"c_d:","eF":{"gH":"\\"}}"#);
    }

    #[test]
    fn a_frame_without_renamed_keys_is_borrowed() {
        let text = r#"{"action":"pong","payload":{"name":"x_y","list":[1,"a_b"]}}"#;
        assert!(matches!(camelize_keys(text), Cow::Borrowed(_)));
        assert!(matches!(decamelize_keys(text), Cow::Borrowed(_)));
    }
}
