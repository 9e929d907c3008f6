//! Pure: the `uri` of a task as a URL (honouring `encode`), and form-encoded bodies.
//!
//! `encode: true` (the default) means the URI was written unencoded: characters that are not allowed in a path
//! or a query parameter are percent-encoded, `%` included, the way Spring's `UriComponentsBuilder.encode()` treats
//! HTTP task URIs. `encode: false` means the URI is already encoded and is used as it is.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use url::Url;

/// Everything but RFC 3986 unreserved characters, sub-delims, `:` and `@` (a path character, `pchar`), and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');
/// A query parameter name or value: `pchar`, `/` and `?`, but not `&` or `=` (they separate parameters).
const QUERY_PARAM: &AsciiSet = &PATH.add(b'&').add(b'=').remove(b'?');
/// `application/x-www-form-urlencoded` values: everything but unreserved characters.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Parses a task's `uri` into an absolute http(s) URL.
pub fn build_url(raw: &str, encode: bool) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    let text = if encode { encode_uri(raw) } else { raw.to_owned() };
    let url = Url::parse(&text).map_err(|e| format!("is not a valid absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must use http or https, got {}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(url)
}

/// Percent-encodes the path and each query parameter of an unencoded URI; scheme and authority are kept.
fn encode_uri(raw: &str) -> String {
    let (rest, fragment) = match raw.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (raw, None),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    // The authority ends at the first '/' after "scheme://".
    let path_start = before_query.find("://").map(|i| i + 3).and_then(|i| before_query[i..].find('/').map(|j| i + j));
    let (authority, path) = match path_start {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let mut out = String::with_capacity(raw.len() + 16);
    out.push_str(authority);
    out.extend(utf8_percent_encode(path, PATH));
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((key, value)) => {
                    out.extend(utf8_percent_encode(key, QUERY_PARAM));
                    out.push('=');
                    out.extend(utf8_percent_encode(value, QUERY_PARAM));
                }
                None => out.extend(utf8_percent_encode(pair, QUERY_PARAM)),
            }
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.extend(utf8_percent_encode(fragment, QUERY_PARAM));
    }
    out
}

/// A flat JSON object as an `application/x-www-form-urlencoded` body; scalar values only.
pub fn form_body(body: &Value) -> Result<Vec<u8>, String> {
    let Value::Object(map) = body else {
        return Err("a form body must be an object of scalar values or a string".into());
    };
    let mut out = String::new();
    for (key, value) in map {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            Value::Null => String::new(),
            _ => return Err(format!("form field {key:?} must be a string, number or boolean")),
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(utf8_percent_encode(key, FORM));
        out.push('=');
        out.extend(utf8_percent_encode(&text, FORM));
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_true_encodes_path_and_query_values() {
        let cases = [
            ("http://h:8/a b/c?q=x y&r=1/2", "http://h:8/a%20b/c?q=x%20y&r=1/2"),
            ("http://h/p?q=50%&e=a=b", "http://h/p?q=50%25&e=a%3Db"),
            ("http://h/p?flag&k=é", "http://h/p?flag&k=%C3%A9"),
            ("http://h/already%20encoded", "http://h/already%2520encoded"),
            ("http://h", "http://h/"),
            ("http://h/p#frag ment", "http://h/p#frag%20ment"),
            ("https://h/x?a=b+c", "https://h/x?a=b+c"),
        ];
        for (raw, want) in cases {
            assert_eq!(build_url(raw, true).unwrap().as_str(), want, "{raw}");
        }
    }

    #[test]
    fn encode_false_keeps_pre_encoded_uris() {
        let url = build_url("http://h/already%20encoded?q=a%26b", false).unwrap();
        assert_eq!(url.as_str(), "http://h/already%20encoded?q=a%26b");
    }

    #[test]
    fn rejects_what_cannot_be_called() {
        for raw in ["", "  ", "not a url", "/relative/path", "ftp://h/x", "file:///etc/passwd", "http://"] {
            assert!(build_url(raw, true).is_err(), "{raw}");
            assert!(build_url(raw, false).is_err(), "{raw}");
        }
    }

    #[test]
    fn form_bodies() {
        assert_eq!(form_body(&json!({"a": "x y", "n": 1, "b": true, "z": null})).unwrap(), b"a=x%20y&b=true&n=1&z=");
        assert!(form_body(&json!({"nested": {"a": 1}})).is_err());
        assert!(form_body(&json!([1])).is_err());
    }
}
