//! Pure: reads one member or element out of JSON text without building a tree, so a condition that reads
//! `$.output.response.body.status` of a 1 MiB body costs a scan of the text and no allocation per node. The text
//! was validated by serde_json when the response arrived (the same parser, the same nesting limit), so a read that
//! fails here cannot happen; it declines (`None`) rather than guess.
//!
//! Duplicate keys: the last one wins, as in `JSON.parse` and in serde_json's maps.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The raw text of `object`'s member `key`: `Some(None)` when it has none, `None` when the text is not an object.
pub(super) fn member<'a>(object: &'a str, key: &str) -> Option<Option<&'a str>> {
    let mut de = serde_json::Deserializer::from_str(object);
    de.deserialize_map(FindKey { key }).ok()
}

/// The number of elements of `array`.
pub(super) fn length(array: &str) -> Option<usize> {
    let mut de = serde_json::Deserializer::from_str(array);
    de.deserialize_seq(Element { index: usize::MAX }).ok().map(|(_, count)| count)
}

/// The raw text of `array`'s element `index`: `Some(None)` past the end.
pub(super) fn element(array: &str, index: usize) -> Option<Option<&str>> {
    let mut de = serde_json::Deserializer::from_str(array);
    de.deserialize_seq(Element { index }).ok().map(|(found, _)| found)
}

/// A JSON string's value: borrowed when it has no escapes.
pub(super) fn string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

struct FindKey<'k> {
    key: &'k str,
}

impl<'de> Visitor<'de> for FindKey<'_> {
    type Value = Option<&'de str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == self.key {
                found = Some(map.next_value::<&'de RawValue>()?.get());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A key, borrowed unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Finds element `index` and counts the elements.
struct Element {
    index: usize,
}

impl<'de> Visitor<'de> for Element {
    type Value = (Option<&'de str>, usize);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut found, mut count) = (None, 0);
        loop {
            if count == self.index {
                match seq.next_element::<&'de RawValue>()? {
                    Some(raw) => found = Some(raw.get()),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            count += 1;
        }
        Ok((found, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_and_elements_from_text() {
        let text = r#" {"a": {"b": [10, "x", {"c": null}]}, "k\u00e9y": 1, "dup": 1, "dup": 2, "s": "a\"b"} "#;
        let a = member(text, "a").unwrap().unwrap();
        assert_eq!(a, r#"{"b": [10, "x", {"c": null}]}"#);
        let b = member(a, "b").unwrap().unwrap();
        assert_eq!(length(b), Some(3));
        assert_eq!(element(b, 0), Some(Some("10")));
        assert_eq!(element(b, 1), Some(Some("\"x\"")));
        assert_eq!(element(b, 2), Some(Some(r#"{"c": null}"#)));
        assert_eq!(element(b, 3), Some(None));
        assert_eq!(member(text, "kéy"), Some(Some("1")), "escaped keys are decoded");
        assert_eq!(member(text, "dup"), Some(Some("2")), "the last duplicate wins");
        assert_eq!(member(text, "missing"), Some(None));
        assert_eq!(member("[1]", "a"), None, "not an object");
        assert_eq!(length("{}"), None, "not an array");
        assert_eq!(string(member(text, "s").unwrap().unwrap()).as_deref(), Some("a\"b"));
        assert!(matches!(string("\"plain\""), Some(Cow::Borrowed("plain"))));
    }
}
