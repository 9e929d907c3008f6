//! Pure: the asynchronous request-reply pattern (`pollLocation`, an extension). An invoke answered `202 Accepted`
//! with a `Location` header names where its status is polled; the polls then go there (GET, no body), with the
//! task's headers. Only a Location on the invoke's own origin (scheme, host and port) is followed: the task's
//! headers, credentials among them, never go to a host the workflow author did not name, and the outbound policy
//! checks every request anyway.

use url::Url;

use super::response::HttpResponse;

/// The status URI a response hands over: `Ok(None)` when it is not a 202 with a `Location`; `Err` (the reason the
/// task fails with) when the Location is not a URL or points at another origin.
pub fn handed_over(invoked: &Url, response: &HttpResponse) -> Result<Option<Url>, String> {
    if response.status != 202 {
        return Ok(None);
    }
    let Some(location) = response.headers.get("Location").and_then(|v| v.as_array()?.first()?.as_str()) else {
        return Ok(None);
    };
    let url = invoked.join(location.trim()).map_err(|error| {
        format!("the 202 response's Location header is not a URL ({error}); pollLocation cannot follow it")
    })?;
    if url.origin() != invoked.origin() {
        return Err(format!(
            "the 202 response's Location is on {} but the task called {}: pollLocation follows Locations on the \
             invoke's own origin only",
            origin(&url),
            origin(invoked)
        ));
    }
    Ok(Some(url))
}

/// `scheme://host:port`, for messages (no path or query, which may carry secrets).
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_poll::response::Body;
    use serde_json::{Map, json};
    use std::time::Duration;

    fn response(status: u16, location: Option<&str>) -> HttpResponse {
        let mut headers = Map::new();
        if let Some(location) = location {
            headers.insert("Location".into(), json!([location]));
        }
        HttpResponse { status, reason: String::new(), headers, body: Body::Null, elapsed: Duration::ZERO }
    }

    #[test]
    fn a_202_location_on_the_same_origin_is_handed_over() {
        let invoked = Url::parse("https://api.example.com:8443/jobs?token=s3cret").unwrap();
        let cases = [
            ("/jobs/42/status", "https://api.example.com:8443/jobs/42/status"),
            ("42/status", "https://api.example.com:8443/42/status"),
            ("https://api.example.com:8443/x?y=1", "https://api.example.com:8443/x?y=1"),
        ];
        for (location, want) in cases {
            let url = handed_over(&invoked, &response(202, Some(location))).unwrap();
            assert_eq!(url.map(String::from).as_deref(), Some(want), "{location}");
        }
        assert_eq!(handed_over(&invoked, &response(200, Some("/jobs/42"))), Ok(None), "only a 202 hands over");
        assert_eq!(handed_over(&invoked, &response(202, None)), Ok(None), "a 202 without Location polls the uri");
    }

    #[test]
    fn a_location_on_another_origin_is_refused_without_echoing_paths() {
        let invoked = Url::parse("https://api.example.com/jobs?token=s3cret").unwrap();
        for location in [
            "http://api.example.com/jobs/1",
            "https://api.example.com:444/jobs/1",
            "https://evil.example.net/steal",
            "//169.254.169.254/latest/meta-data",
        ] {
            let error = handed_over(&invoked, &response(202, Some(location))).unwrap_err();
            assert!(error.contains("own origin only"), "{location}: {error}");
            assert!(!error.contains("s3cret") && !error.contains("steal"), "no paths or queries: {error}");
        }
    }
}
