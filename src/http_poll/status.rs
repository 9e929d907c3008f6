//! Pure: which HTTP statuses count as success (`acceptedStatusCodes`), and which failures are worth another poll.

use serde_json::Value;

/// Accepted statuses: codes and families. Without `acceptedStatusCodes` only 2xx is accepted; when the list is given,
/// 2xx is not implied (Orkes' rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFilter {
    /// Exact codes, e.g. 404.
    codes: Vec<u16>,
    /// Families by hundreds digit, e.g. 2 for `2xx`.
    families: Vec<u16>,
}

impl Default for StatusFilter {
    fn default() -> Self {
        Self { codes: Vec::new(), families: vec![2] }
    }
}

impl StatusFilter {
    /// Parses `acceptedStatusCodes`: a non-empty list of codes (`404`, `"404"`) and families (`"2xx"`).
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Array(items) = value else {
            return Err("must be a list of status codes or families such as \"2xx\"".into());
        };
        if items.is_empty() {
            return Err("must not be empty (leave it out to accept 2xx)".into());
        }
        let mut filter = Self { codes: Vec::new(), families: Vec::new() };
        for item in items {
            let text = match item {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_ascii_lowercase(),
                other => return Err(format!("entries must be codes or families such as \"2xx\", got {other}")),
            };
            if let Some(digit) =
                text.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()).filter(|d| (1..=5).contains(d))
            {
                filter.families.push(digit);
            } else if let Some(code) = text.parse::<u16>().ok().filter(|c| (100..=599).contains(c)) {
                filter.codes.push(code);
            } else {
                return Err(format!("{text:?} is not a status code (100-599) or a family (1xx-5xx)"));
            }
        }
        Ok(filter)
    }

    /// Whether `status` counts as success.
    pub fn accepts(&self, status: u16) -> bool {
        self.codes.contains(&status) || self.families.contains(&(status / 100))
    }
}

/// Whether a non-accepted status is likely to change by itself: 408, 425, 429 and 5xx. Polling continues past these;
/// any other non-accepted status fails the task.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_accepts_2xx_only() {
        let filter = StatusFilter::default();
        for (status, want) in
            [(200, true), (202, true), (299, true), (199, false), (301, false), (404, false), (500, false)]
        {
            assert_eq!(filter.accepts(status), want, "{status}");
        }
    }

    #[test]
    fn explicit_list_does_not_imply_2xx() {
        let filter = StatusFilter::parse(&json!(["404", 409, "3XX"])).unwrap();
        for (status, want) in [(404, true), (409, true), (302, true), (200, false), (500, false)] {
            assert_eq!(filter.accepts(status), want, "{status}");
        }
    }

    #[test]
    fn invalid_lists_are_rejected_with_a_reason() {
        for value in
            [json!("2xx"), json!([]), json!(["abc"]), json!([700]), json!(["6xx"]), json!([{"a": 1}]), json!([99])]
        {
            assert!(StatusFilter::parse(&value).is_err(), "{value}");
        }
    }

    #[test]
    fn transient_statuses() {
        for (status, want) in
            [(500, true), (503, true), (429, true), (408, true), (404, false), (400, false), (302, false)]
        {
            assert_eq!(is_transient(status), want, "{status}");
        }
    }
}
