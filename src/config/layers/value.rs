//! One setting's value from a raw layer value: [`ConfigValue`] for each type a catalogue entry can have (whole
//! numbers, ratios, booleans, strings, lists, URLs, [`ListenAddr`]), from TOML or from an environment or flag string,
//! and how `check-config` prints it.
//!
//! Owns: the syntax of a value and its error text. Does not own: the range checks of a setting (the catalogue) or
//! which layer a value comes from (the parent module).

use std::net::SocketAddr;

use url::Url;

/// A typed setting value that can be read from TOML or from an environment string.
pub trait ConfigValue: Sized {
    /// From a TOML value; the error says what was expected.
    fn from_toml(value: &toml::Value) -> Result<Self, String>;
    /// From an environment (or command-line) string.
    fn from_text(text: &str) -> Result<Self, String>;
    /// How `check-config` prints it.
    fn show(&self) -> String;
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl ConfigValue for $t {
            fn from_toml(value: &toml::Value) -> Result<Self, String> {
                match value {
                    toml::Value::Integer(n) => <$t>::try_from(*n).map_err(|_| format!("{n} is out of range")),
                    other => Err(format!("expected a whole number, got {}", other.type_str())),
                }
            }
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| format!("expected a whole number, got {text:?}"))
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_value!(u32, u64, usize);

impl ConfigValue for f64 {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Float(n) => Ok(*n),
            toml::Value::Integer(n) => Ok(*n as f64),
            other => Err(format!("expected a number, got {}", other.type_str())),
        }
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| format!("expected a number, got {text:?}"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ConfigValue for bool {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        value.as_bool().ok_or_else(|| format!("expected true or false, got {}", value.type_str()))
    }
    fn from_text(text: &str) -> Result<Self, String> {
        // The SDKs accept these spellings for booleans in the environment.
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("expected true or false, got {text:?}")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ConfigValue for String {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        value.as_str().map(str::to_owned).ok_or_else(|| format!("expected a string, got {}", value.type_str()))
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// A list of strings: a TOML array, or a comma-separated environment value.
impl ConfigValue for Vec<String> {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| format!("expected strings, got {}", item.type_str()))
                })
                .collect(),
            other => Err(format!("expected a list of strings, got {}", other.type_str())),
        }
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl ConfigValue for Url {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        Self::from_text(value.as_str().ok_or_else(|| format!("expected a URL string, got {}", value.type_str()))?)
    }
    fn from_text(text: &str) -> Result<Self, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("{text:?} must be an http(s) URL with a host"));
        }
        Ok(url)
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// An address to listen on, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

impl ConfigValue for ListenAddr {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        Self::from_text(
            value.as_str().ok_or_else(|| format!("expected \"host:port\" or \"off\", got {}", value.type_str()))?,
        )
    }
    fn from_text(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(ListenAddr(None));
        }
        text.trim()
            .parse()
            .map(|a| ListenAddr(Some(a)))
            .map_err(|_| format!("expected \"host:port\" or \"off\", got {text:?}"))
    }
    fn show(&self) -> String {
        self.0.map_or_else(|| "off".to_owned(), |a| a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_from_both_layers() {
        assert_eq!(u64::from_toml(&toml::Value::Integer(5)), Ok(5));
        assert!(u64::from_toml(&toml::Value::Integer(-5)).is_err());
        assert!(u64::from_toml(&toml::Value::String("5".into())).is_err());
        assert_eq!(u64::from_text(" 7 "), Ok(7));
        assert!(u64::from_text("abc").is_err());
        assert_eq!(bool::from_text("yes"), Ok(true));
        assert!(bool::from_text("maybe").is_err());
        assert_eq!(f64::from_toml(&toml::Value::Integer(2)), Ok(2.0));
        assert!(f64::from_text("NaN").is_err());
        assert_eq!(ListenAddr::from_text("off"), Ok(ListenAddr(None)));
        assert!(ListenAddr::from_text("localhost").is_err());
        assert!(Url::from_text("ftp://x").is_err());
    }
}
