//! The request half of the input: method, URI, headers, body and timeouts, each checked and named on failure.

use super::*;
use crate::config::catalog::MAX_RETRIES;

pub(super) fn parse_request(fields: &mut Fields<'_>, defaults: &SpecDefaults) -> Option<RequestSpec> {
    let encode = fields.boolean("encode").unwrap_or(true);
    let url = match fields.string("uri") {
        None if fields.get("uri").is_none() => {
            fields.problem("uri", "is required");
            None
        }
        None => None,
        Some(raw) if raw.len() > MAX_URI_BYTES => {
            fields.problem("uri", format!("is longer than {MAX_URI_BYTES} bytes"));
            None
        }
        Some(raw) => match url_encoding::build_url(raw, encode) {
            Ok(url) => Some(url),
            Err(message) => {
                fields.problem("uri", message);
                None
            }
        },
    };
    let method = parse_method(fields);
    let accepted = match fields.get("acceptedStatusCodes") {
        None => StatusFilter::default(),
        Some(value) => StatusFilter::parse(value).unwrap_or_else(|message| {
            fields.problem("acceptedStatusCodes", message);
            StatusFilter::default()
        }),
    };
    let connect_timeout = fields.timeout_ms("connectionTimeOut", defaults.connect_timeout);
    let read_timeout = fields.timeout_ms("readTimeOut", defaults.read_timeout);
    // 0 means "no timeout" (conductor-oss): the worker's longest, which the executor bounds by the task's
    // response timeout.
    let open_ended = connect_timeout.is_zero() || read_timeout.is_zero();
    let timeout = if open_ended { MAX_REQUEST_TIMEOUT } else { connect_timeout + read_timeout };
    let retries = match fields.number("retries") {
        None => defaults.retries,
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(MAX_RETRIES)).contains(&n) => n as u32,
        Some(n) => {
            fields.problem("retries", format!("must be a whole number from 0 to {MAX_RETRIES}, got {n}"));
            defaults.retries
        }
    };
    let mut headers = parse_headers(fields);
    let accept = header_list(fields, "accept").unwrap_or_else(|| "application/json".into());
    let content_type = fields.string("contentType").unwrap_or("application/json").to_owned();
    for (name, value, key) in [(ACCEPT, accept, "accept"), (CONTENT_TYPE, content_type, "contentType")] {
        if headers.contains_key(&name) {
            continue; // An explicit header wins over the shorthand key.
        }
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(_) => fields.problem(key, "contains characters not allowed in a header value (CR, LF or control)"),
        }
    }
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = fields.get("body").and_then(|body| match encode_body(body, &content_type) {
        Ok(bytes) if bytes.len() > MAX_BODY_BYTES => {
            fields.problem("body", format!("is larger than {MAX_BODY_BYTES} bytes"));
            None
        }
        Ok(bytes) => Some(bytes),
        Err(message) => {
            fields.problem("body", message);
            None
        }
    });
    let headers = shrunk(headers);
    let credentials = parse_credentials(fields);
    Some(RequestSpec { method: method?, url: url?, headers, body, timeout, open_ended, retries, accepted, credentials })
}

/// `credentials`: a profile name (whether it exists and covers the host is decided when the request is sent).
fn parse_credentials(fields: &mut Fields<'_>) -> Option<Box<str>> {
    match fields.get("credentials")? {
        Value::String(name)
            if (1..=64).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
        {
            Some(name.as_str().into())
        }
        Value::String(_) => {
            fields.problem("credentials", "must be a profile name: 1 to 64 letters, digits, '_', '-' or '.'");
            None
        }
        other => {
            let message = format!("must be the name of a credentials profile, got {}", json_type(other));
            fields.problem("credentials", message);
            None
        }
    }
}

/// The same headers, in the same order, in a map of their size: a `HeaderMap` makes room for 6 entries on its first
/// insert (~0.7 KiB), and a task holding between polls keeps its request's map.
fn shrunk(headers: HeaderMap) -> HeaderMap {
    let mut compact = HeaderMap::with_capacity(headers.len());
    compact.extend(headers);
    compact
}

fn parse_method(fields: &mut Fields<'_>) -> Option<Method> {
    const ALLOWED: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];
    let Some(raw) = fields.string("method") else {
        if fields.get("method").is_none() {
            fields.problem("method", format!("is required (one of {})", ALLOWED.join(", ")));
        }
        return None;
    };
    let upper = raw.trim().to_ascii_uppercase();
    if !ALLOWED.contains(&upper.as_str()) {
        fields.problem("method", format!("must be one of {}, got {raw:?}", ALLOWED.join(", ")));
        return None;
    }
    Method::from_bytes(upper.as_bytes()).ok()
}

fn parse_headers(fields: &mut Fields<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(value) = fields.get("headers") else { return headers };
    let Value::Object(map) = value else {
        fields.problem("headers", format!("must be an object of strings, got {}", json_type(value)));
        return headers;
    };
    if map.len() > MAX_HEADERS {
        fields.problem("headers", format!("has {} entries, more than {MAX_HEADERS}", map.len()));
        return headers;
    }
    let mut values = 0usize;
    for (name, value) in map {
        let key = format!("headers.{name}");
        // A list is the header repeated (the Python SDK types headers as lists of strings).
        let items: &[Value] = match value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        for (index, item) in items.iter().enumerate() {
            let key = if matches!(value, Value::Array(_)) { format!("{key}[{index}]") } else { key.clone() };
            let Some(text) = header_text(item) else {
                if !item.is_null() {
                    fields.problem(&key, format!("must be a string, number or boolean, got {}", json_type(item)));
                }
                continue;
            };
            if text.len() > MAX_HEADER_VALUE_BYTES {
                fields.problem(&key, format!("is longer than {MAX_HEADER_VALUE_BYTES} bytes"));
                continue;
            }
            values += 1;
            if values > MAX_HEADERS {
                fields.problem("headers", format!("has more than {MAX_HEADERS} values"));
                return headers;
            }
            match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&text)) {
                (Err(_), _) => {
                    fields.problem(&key, "is not a valid header name (CR, LF, spaces and separators are not allowed)")
                }
                (_, Err(_)) => {
                    fields.problem(&key, "contains characters not allowed in a header value (CR, LF or control)")
                }
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
            }
        }
    }
    headers
}

/// A header value as text: strings as they are, numbers and booleans as JSON writes them; `None` otherwise.
fn header_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(text) => Some(std::borrow::Cow::Borrowed(text)),
        Value::Number(number) => Some(std::borrow::Cow::Owned(number.to_string())),
        Value::Bool(flag) => Some(std::borrow::Cow::Borrowed(if *flag { "true" } else { "false" })),
        _ => None,
    }
}

fn header_list(fields: &mut Fields<'_>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        }
        other => {
            fields.problem(key, format!("must be a string or a list of strings, got {}", json_type(other)));
            None
        }
    }
}

/// Serializes a body for a content type: strings are sent as they are; other JSON values need a JSON content type,
/// or a form content type with a flat object.
fn encode_body(body: &Value, content_type: &str) -> Result<Vec<u8>, String> {
    if let Value::String(text) = body {
        return Ok(text.clone().into_bytes());
    }
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") || essence == "text/json" {
        return serde_json::to_vec(body).map_err(|e| e.to_string());
    }
    if essence == "application/x-www-form-urlencoded" {
        return url_encoding::form_body(body);
    }
    Err(format!(
        "is {}, which needs a JSON or form content type, but contentType is {content_type:?}; send a string body or change contentType",
        json_type(body)
    ))
}
