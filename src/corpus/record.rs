//! JSONL records that keep every field as it came: parsed into (key, raw value) pairs so a record
//! is re-emitted with its fields in the same order and their values byte for byte, only the text
//! field (and the `metadata` object, when cleaning adds facts) replaced.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One JSON object, its values left unparsed.
pub struct RawRecord<'a> {
    pub fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawRecord<'a> {
    /// Parses one line. The error message says what is wrong, for a `FILE:LINE:` prefix.
    pub fn parse(line: &'a str) -> Result<Self, String> {
        let mut de = serde_json::Deserializer::from_str(line);
        let record = de.deserialize_map(FieldsVisitor).map_err(|e| {
            if e.classify() == serde_json::error::Category::Data {
                "not a JSON object".to_string()
            } else {
                format!("malformed JSON: {e}")
            }
        })?;
        de.end()
            .map_err(|e| format!("malformed JSON: trailing characters ({e})"))?;
        Ok(record)
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, value)| *value)
    }

    /// The string value of `key`: `Ok(None)` when absent, `Err` when present but not a string.
    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => {
                let json = raw.get();
                // A string the parser accepted: its content unescaped in one pass.
                if let Some(text) = unescape_json_string(json) {
                    return Ok(Some(text));
                }
                serde_json::from_str::<String>(json)
                    .map(Some)
                    .map_err(|_| format!("field `{key}` is not a string"))
            }
        }
    }

    /// A document id from `key`: strings as they are, numbers as written.
    pub fn id(&self, key: &str) -> Option<String> {
        let raw = self.get(key)?;
        if let Ok(s) = serde_json::from_str::<String>(raw.get()) {
            return Some(s);
        }
        match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Writes the record with `text_field` set to `text` and `metadata` merged into the
    /// `metadata` object (appended when the record has none). Untouched values keep their bytes.
    pub fn write_with(
        &self,
        out: &mut Vec<u8>,
        text_field: &str,
        text: &str,
        metadata: &Map<String, Value>,
        extra: &[(&str, Value)],
    ) {
        // One allocation for the line: the fields as they came, the text, a little for quotes.
        let raw: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        out.reserve(raw + text.len() + text.len() / 16 + 2);
        out.push(b'{');
        let mut first = true;
        let mut metadata_written = metadata.is_empty();
        for (key, raw) in &self.fields {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_str(out, key);
            out.push(b':');
            if key == text_field {
                write_json_str(out, text);
            } else if key == "metadata" && !metadata_written {
                metadata_written = true;
                match serde_json::from_str::<Value>(raw.get()) {
                    Ok(Value::Object(mut existing)) => {
                        for (k, v) in metadata {
                            existing.insert(k.clone(), v.clone());
                        }
                        write_json(out, &Value::Object(existing));
                    }
                    // A non-object `metadata` is kept as it is; the facts go nowhere rather than
                    // overwrite a user's field.
                    _ => out.extend_from_slice(raw.get().as_bytes()),
                }
            } else {
                out.extend_from_slice(raw.get().as_bytes());
            }
        }
        if !metadata_written {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(b"\"metadata\":");
            write_json(out, &Value::Object(metadata.clone()));
        }
        for (key, value) in extra {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_str(out, key);
            out.push(b':');
            write_json(out, value);
        }
        out.push(b'}');
    }
}

/// The content of a JSON string literal that the parser has already accepted (quotes included),
/// unescaped: the stretches between escapes are copied whole. `None` for anything else, or for
/// an escape that is not well formed, which the full parser then reports.
fn unescape_json_string(json: &str) -> Option<String> {
    let inner = json.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut at = 0;
    while let Some(k) = memchr::memchr(b'\\', &bytes[at..]) {
        out.push_str(&inner[at..at + k]);
        at += k + 1;
        let c = match *bytes.get(at)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = |at: usize| u32::from_str_radix(inner.get(at..at + 4)?, 16).ok();
                let high = unit(at + 1)?;
                at += 4;
                if (0xD800..0xDC00).contains(&high) {
                    // A surrogate pair: `\uD83D\uDE00`.
                    if inner.get(at + 1..at + 3)? != "\\u" {
                        return None;
                    }
                    let low = unit(at + 3)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    at += 6;
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                } else {
                    char::from_u32(high)?
                }
            }
            _ => return None,
        };
        out.push(c);
        at += 1;
    }
    out.push_str(&inner[at..]);
    Some(out)
}

/// Serializes a value compactly; serializing a `Value` into memory cannot fail.
pub fn write_json(out: &mut Vec<u8>, value: &Value) {
    serde_json::to_writer(out, value).expect("serializing a JSON value into memory");
}

/// Writes `text` as a JSON string literal, as [`write_json`] writes the `Value` of it (the
/// same escapes), without copying it into one first. Eight bytes at a time: most text has
/// nothing to escape for long stretches, and every cleaned document's text goes through here.
pub fn write_json_str(out: &mut Vec<u8>, text: &str) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `x` is zero, or below 0x20: exact as to whether, not which.
    let has_below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGH != 0;
    let needs_escape = |x: u64| {
        has_below(x, 0x20)
            || has_below(x ^ (u64::from(b'"') * ONES), 1)
            || has_below(x ^ (u64::from(b'\\') * ONES), 1)
    };
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes from `copied` on are not written yet.
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        if let Some(eight) = bytes.get(i..i + 8) {
            if !needs_escape(u64::from_le_bytes(eight.try_into().expect("eight bytes"))) {
                i += 8;
                continue;
            }
        }
        for at in i..(i + 8).min(bytes.len()) {
            let b = bytes[at];
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0C => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x00..=0x1F => b'u',
                _ => continue,
            };
            out.extend_from_slice(&bytes[copied..at]);
            copied = at + 1;
            if short == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
            } else {
                out.extend_from_slice(&[b'\\', short]);
            }
        }
        i += 8;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

struct FieldsVisitor;

/// A field name, borrowed from the line unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = RawRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(RawRecord { fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A string written directly is the same literal as the `Value` of it.
        #[test]
        fn strings_are_written_as_their_values_are(
            text in r#"(\PC|["\\\n\t\x00-\x1f\x7f]|[a-z ]{8,20})*"#
        ) {
            let (mut direct, mut value) = (Vec::new(), Vec::new());
            write_json_str(&mut direct, &text);
            write_json(&mut value, &Value::String(text.clone()));
            prop_assert_eq!(direct, value);
        }
    }

    #[test]
    fn fields_keep_order_and_bytes() {
        let line = r#"{"z": 1.50, "text": "a\u00e9", "id": "x", "n": [1, 2]}"#;
        let record = RawRecord::parse(line).unwrap();
        assert_eq!(record.string("text").unwrap().as_deref(), Some("aé"));
        assert_eq!(record.id("id").as_deref(), Some("x"));
        // Escaped names match their meaning; unescaped text is taken as it is.
        let escaped = RawRecord::parse(r#"{"te\u0078t": "a b\"c", "id": "tab\there"}"#).unwrap();
        assert_eq!(escaped.string("text").unwrap().as_deref(), Some("a b\"c"));
        assert_eq!(escaped.id("id").as_deref(), Some("tab\there"));
        let mut out = Vec::new();
        record.write_with(&mut out, "text", "b", &Map::new(), &[]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"z":1.50,"text":"b","id":"x","n":[1, 2]}"#
        );
    }

    proptest::proptest! {
        /// Any string serde_json writes comes back as serde_json reads it.
        #[test]
        fn strings_unescape_as_serde_json_reads_them(text in "(?s).{0,40}", raw in "[ -~]{0,12}") {
            let json = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(unescape_json_string(&json), Some(text));
            // Hand-written escapes: the same result as the parser, or left to it.
            let literal = format!("\"{raw}\"");
            if let Ok(expected) = serde_json::from_str::<String>(&literal) {
                if let Some(got) = unescape_json_string(&literal) {
                    proptest::prop_assert_eq!(got, expected);
                }
            }
        }
    }

    #[test]
    fn escapes_of_every_kind() {
        let json = r#""a\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00z""#;
        let expected: String = serde_json::from_str(json).unwrap();
        assert_eq!(unescape_json_string(json), Some(expected));
        for bad in [
            r#""\x""#,
            r#""\u12""#,
            r#""\uD83D""#,
            r#""\uD83D\u0041""#,
            r#""\"#,
        ] {
            assert_eq!(unescape_json_string(bad), None, "{bad}");
        }
    }

    #[test]
    fn metadata_is_merged_or_appended() {
        let mut meta = Map::new();
        meta.insert("date".into(), Value::String("2022-10-03".into()));
        let with = RawRecord::parse(r#"{"text":"t","metadata":{"src":"a"}}"#).unwrap();
        let mut out = Vec::new();
        with.write_with(&mut out, "text", "t", &meta, &[]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"text":"t","metadata":{"src":"a","date":"2022-10-03"}}"#
        );
        let without = RawRecord::parse(r#"{"text":"t"}"#).unwrap();
        let mut out = Vec::new();
        without.write_with(&mut out, "text", "t", &meta, &[]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"text":"t","metadata":{"date":"2022-10-03"}}"#
        );
    }

    #[test]
    fn numeric_ids_and_bad_records() {
        assert_eq!(
            RawRecord::parse(r#"{"id":7}"#).unwrap().id("id").as_deref(),
            Some("7")
        );
        assert_eq!(
            RawRecord::parse("[1]").err().as_deref(),
            Some("not a JSON object")
        );
        assert!(RawRecord::parse(r#"{"a":"#)
            .err()
            .unwrap()
            .starts_with("malformed JSON"));
        assert!(RawRecord::parse(r#"{"a":1} x"#).is_err());
        assert_eq!(
            RawRecord::parse(r#"{"text":3}"#).unwrap().string("text"),
            Err("field `text` is not a string".to_string())
        );
    }
}
