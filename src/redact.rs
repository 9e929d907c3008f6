//! Pure: secrets out of text that is printed. A URL's user info (`user:password@`) becomes `***@` wherever a URL
//! is logged, reported or shown by `check-config`; its query string may carry credentials too and is dropped where
//! a URL names a target (`http_poll::request::describe_target`).

use url::Url;

/// A URL that may carry credentials: `Debug` and `Display` show it without them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub Url);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&url_of(&self.0))
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&url_of(&self.0))
    }
}

/// `url` with its user info replaced by `***`.
pub fn url_of(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("***");
    shown.to_string()
}

/// [`url_of`] for text that may not parse as a URL: whatever sits between `://` and the last `@` before the path
/// is replaced.
pub fn url(text: &str) -> String {
    if let Ok(parsed) = Url::parse(text) {
        return url_of(&parsed);
    }
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else { return text.to_owned() };
    let authority_end = text[scheme_end..].find(['/', '?', '#']).map_or(text.len(), |i| scheme_end + i);
    match text[scheme_end..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..scheme_end], &text[scheme_end + at..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_never_shows() {
        let cases = [
            ("http://user:s3cret@conductor:8080/api", "http://***@conductor:8080/api"),
            ("http://user@conductor:8080/api", "http://***@conductor:8080/api"),
            ("http://:s3cret@conductor/api", "http://***@conductor/api"),
            ("http://conductor:8080/api", "http://conductor:8080/api"),
            ("http://u:p@[bad/x", "http://***@[bad/x"),
            ("not a url", "not a url"),
        ];
        for (text, want) in cases {
            assert_eq!(url(text), want, "{text}");
            assert!(!url(text).contains("s3cret"));
        }
    }
}
