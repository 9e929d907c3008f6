//! The response as the HTTP task's output and the condition's `$.output.response` see it:
//! `{statusCode, reasonPhrase, headers, body}`, headers as lists of strings under Title-Case names (sensitive ones
//! `<redacted>`), and a JSON body kept as its text: it is validated once and never parsed into a tree ([`Body`]).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::condition::dollar::{BodyView, ResponseView};

/// What replaces a sensitive header's value in stored output.
pub const REDACTED: &str = "<redacted>";
/// Shortest secret value looked for in a response (shorter ones would match by chance).
const MIN_ECHO_LEN: usize = 4;
/// A response as the task output and the condition's `$.output.response` see it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Canonical reason phrase (`OK`, `Not Found`), empty if unknown.
    pub reason: String,
    /// Header name (Title-Case) → values.
    pub headers: Map<String, Value>,
    /// The body.
    pub body: Body,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
}

/// A response body: JSON when it parses as JSON (kept as its text), else the text (invalid UTF-8 replaced); null
/// when empty.
#[derive(Debug, Clone)]
pub enum Body {
    /// Empty, or only white space.
    Null,
    /// Not JSON.
    Text(String),
    /// JSON, as received (without surrounding white space).
    Json(Box<RawValue>),
}

impl Body {
    /// Classifies a body once, when it arrives.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Body::Null;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => return Body::Text(String::from_utf8_lossy(error.as_bytes()).into_owned()),
        };
        // Escaped lone surrogates are valid JSON text but not a valid tree (serde_json's, the engine's `$`): such
        // a body is text, as it always was. Only bodies with surrogate escapes pay for the full check.
        if has_surrogate_escape(&text) && serde_json::from_str::<Value>(&text).is_err() {
            return Body::Text(text);
        }
        match serde_json::from_str::<Box<RawValue>>(&text) {
            Ok(raw) => Body::Json(raw),
            Err(_) => Body::Text(text),
        }
    }

    /// The view `$` and the output read.
    pub fn view(&self) -> BodyView<'_> {
        match self {
            Body::Null => BodyView::Null,
            Body::Text(text) => BodyView::Text(text),
            Body::Json(raw) => BodyView::Json(raw),
        }
    }
}

/// Whether `text` holds a `\uD800`–`\uDFFF` escape (or something that looks like one).
fn has_surrogate_escape(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

impl HttpResponse {
    /// The view `$.output.response` and the task output read.
    pub fn view(&self) -> ResponseView<'_> {
        ResponseView { status: self.status, reason: &self.reason, headers: &self.headers, body: self.body.view() }
    }

    /// The `response` object of the task output, as JSON text (the body copied in as received).
    pub fn to_raw(&self) -> Box<RawValue> {
        // Serializing strings, maps of strings and validated JSON text cannot fail.
        serde_json::value::to_raw_value(&self.view()).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

/// A response as the worker records it, from its raw parts (what [`HttpInvoker`] does with a real response; also
/// the fuzzing entry point for response handling).
pub fn response_from_parts(status: u16, headers: &HeaderMap, body: &[u8], sensitive: &[String]) -> HttpResponse {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or_default();
    HttpResponse {
        status,
        reason: reason.to_owned(),
        headers: header_lists(headers, sensitive, &[]),
        body: Body::from_bytes(body.to_vec()),
        elapsed: Duration::ZERO,
    }
}

/// The headers as the output shows them: lists of values under Title-Case names, with the values of `sensitive`
/// headers and any value containing one of `echoes` (secrets the request carried) redacted.
pub(super) fn header_lists(headers: &HeaderMap, sensitive: &[String], echoes: &[Arc<str>]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        let echoed = || {
            let bytes = value.as_bytes();
            echoes.iter().any(|e| e.len() >= MIN_ECHO_LEN && memchr::memmem::find(bytes, e.as_bytes()).is_some())
        };
        let secret = sensitive.iter().any(|s| s == name.as_str()) || echoed();
        let entry = out.entry(title_case(name.as_str())).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            let text =
                if secret { REDACTED.to_owned() } else { String::from_utf8_lossy(value.as_bytes()).into_owned() };
            values.push(Value::String(text));
        }
    }
    out
}

/// `body` with every occurrence of `echoes` (secrets the request carried, as a target that reflects its request
/// would return them) replaced by [`REDACTED`]. Inside a JSON string the replacement keeps the JSON valid.
pub(super) fn without_echoes(body: Vec<u8>, echoes: &[Arc<str>]) -> Vec<u8> {
    echoes.iter().filter(|e| e.len() >= MIN_ECHO_LEN).fold(body, |body, echo| {
        let finder = memchr::memmem::Finder::new(echo.as_bytes());
        if finder.find(&body).is_none() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest = &body[..];
        while let Some(at) = finder.find(rest) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[at + echo.len()..];
        }
        out.extend_from_slice(rest);
        out
    })
}

/// `content-type` → `Content-Type`: HTTP/1 servers usually send this casing and conditions written against
/// Orkes or conductor-oss (Java) read headers that way.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// The body as the output and `$` see it.
    fn seen(bytes: &[u8]) -> Value {
        serde_json::to_value(Body::from_bytes(bytes.to_vec()).view()).unwrap()
    }

    #[test]
    fn bodies_are_json_when_they_parse() {
        assert_eq!(seen(b""), Value::Null);
        assert_eq!(seen(b" \n"), Value::Null);
        assert_eq!(seen(br#" {"a":[1]} "#), json!({"a": [1]}));
        assert!(
            matches!(Body::from_bytes(br#" {"a": [1]}"#.to_vec()), Body::Json(raw) if raw.get() == r#"{"a": [1]}"#)
        );
        assert_eq!(seen(b"42"), json!(42));
        assert_eq!(seen(b"<html>oops</html>"), json!("<html>oops</html>"));
        assert_eq!(seen(b"\xff\xfeok"), json!("\u{fffd}\u{fffd}ok"));
        assert_eq!(seen(br#"{"s": "\ud83d\ude00"}"#), json!({"s": "😀"}), "a surrogate pair is fine");
        assert_eq!(seen(br#"{"s": "\ud800"}"#), json!(r#"{"s": "\ud800"}"#), "a lone surrogate makes it text");
        assert_eq!(seen(b"[1,]"), json!("[1,]"));
    }

    #[test]
    fn header_names_are_title_cased_and_grouped() {
        let mut headers = HeaderMap::new();
        headers.append("content-type", "application/json".parse().unwrap());
        headers.append("set-cookie", "a=1".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        headers.append("x-amz-request-id", "r".parse().unwrap());
        headers.append("x-echo", "Bearer tok3n-value".parse().unwrap());
        let lists = header_lists(&headers, &["set-cookie".to_owned()], &["tok3n-value".into(), "r".into()]);
        assert_eq!(lists["Content-Type"], json!(["application/json"]));
        assert_eq!(lists["Set-Cookie"], json!([REDACTED, REDACTED]));
        assert_eq!(lists["X-Amz-Request-Id"], json!(["r"]), "echoes shorter than 4 bytes are not looked for");
        assert_eq!(lists["X-Echo"], json!([REDACTED]), "a header echoing a secret the request carried");
    }

    #[test]
    fn bodies_echoing_a_secret_are_redacted_and_stay_json() {
        let echoes: Vec<Arc<str>> = vec!["k3y-abc".into(), "Basic dXNlcjpwdw==".into()];
        let body =
            br#"{"headers":{"X-Api-Key":"k3y-abc","Authorization":"Basic dXNlcjpwdw=="},"again":"k3y-abck3y-abc"}"#;
        let redacted = String::from_utf8(without_echoes(body.to_vec(), &echoes)).unwrap();
        assert_eq!(
            redacted,
            r#"{"headers":{"X-Api-Key":"<redacted>","Authorization":"<redacted>"},"again":"<redacted><redacted>"}"#
        );
        assert!(matches!(Body::from_bytes(redacted.into_bytes()), Body::Json(_)));
        assert_eq!(without_echoes(b"nothing here".to_vec(), &echoes), b"nothing here");
    }
}
