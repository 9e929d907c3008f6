//! The shape of a catalogue entry: [`Entry`] (key, environment names, flag, default, unit, check, doc), its
//! builder, [`Unit`], and [`Listed`], the untyped view the listings and documentation tests use.
//!
//! Owns: what an entry is. Does not own: the entries themselves (the sibling modules) or how they are read
//! (`config::resolver`).

use crate::config::layers::ConfigValue;

/// What a number counts, for documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Not a quantity (text, a flag, a list).
    None,
    /// A count.
    Count,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Secs,
    /// Bytes.
    Bytes,
    /// A fraction from 0 to 1.
    Ratio,
}

/// One setting of type `T`.
#[derive(Debug)]
pub struct Entry<T: 'static> {
    /// The dotted key in the file; a per-task-type entry's key is its property name (`concurrency`), read from
    /// `[task_types.<name>]` and `[defaults]`.
    pub key: &'static str,
    /// Environment names read besides the derived one (the official SDKs' names), highest priority first. For
    /// global settings the derived name is `CONDUCTOR_HTTP_WORKER_<SECTION>_<KEY>`; for per-task-type settings
    /// these are property names, read as `CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` and `CONDUCTOR_WORKER_ALL_<PROP>`.
    pub env: &'static [&'static str],
    /// The command-line flag that sets it, if any.
    pub flag: Option<&'static str>,
    /// The value when no layer sets one.
    pub default: fn() -> T,
    /// What it counts.
    pub unit: Unit,
    /// Whether a value is acceptable, and the requirement shown when it is not.
    pub check: Option<(fn(&T) -> bool, &'static str)>,
    /// Whether the value is a secret (shown as set or unset, never printed).
    pub secret: bool,
    /// What it does.
    pub doc: &'static str,
}

impl<T> Entry<T> {
    pub(super) const fn new(key: &'static str, default: fn() -> T, unit: Unit, doc: &'static str) -> Self {
        Self { key, env: &[], flag: None, default, unit, check: None, secret: false, doc }
    }
    pub(super) const fn env(mut self, env: &'static [&'static str]) -> Self {
        self.env = env;
        self
    }
    pub(super) const fn flag(mut self, flag: &'static str) -> Self {
        self.flag = Some(flag);
        self
    }
    pub(super) const fn check(mut self, check: fn(&T) -> bool, requirement: &'static str) -> Self {
        self.check = Some((check, requirement));
        self
    }
    pub(super) const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// An entry seen without its type, for listings and documentation tests.
pub trait Listed: Sync {
    /// The key.
    fn key(&self) -> &'static str;
    /// The default as the file spells it.
    fn default_text(&self) -> String;
    /// The extra environment names.
    fn env(&self) -> &'static [&'static str];
    /// The command-line flag, if any.
    fn flag(&self) -> Option<&'static str>;
    /// Whether it is a secret.
    fn secret(&self) -> bool;
    /// What it does.
    fn doc(&self) -> &'static str;
    /// Whether `text` (a TOML value) is the default.
    fn is_default(&self, value: &toml::Value) -> bool;
}

impl<T: ConfigValue + PartialEq + 'static> Listed for Entry<T> {
    fn key(&self) -> &'static str {
        self.key
    }
    fn default_text(&self) -> String {
        (self.default)().show()
    }
    fn env(&self) -> &'static [&'static str] {
        self.env
    }
    fn flag(&self) -> Option<&'static str> {
        self.flag
    }
    fn secret(&self) -> bool {
        self.secret
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn is_default(&self, value: &toml::Value) -> bool {
        T::from_toml(value).is_ok_and(|v| v == (self.default)())
    }
}

pub(super) fn string(text: &'static str) -> String {
    text.to_owned()
}

pub(super) const MIB: u64 = 1024 * 1024;
