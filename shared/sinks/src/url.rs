//! Sink URLs: `scheme://target?option=value&...`, or a bare scheme such as `stdout`.
//!
//! Not the `url` crate: targets such as an SNS topic ARN (`sns://arn:aws:sns:...`) or a table
//! name with `{table}` are not valid URL hosts, and we only need scheme, target and options.

use std::path::PathBuf;

pub const SINKS_SETTING: &str = "CDC_SINKS";
pub const DLQ_SETTING: &str = "CDC_DLQ";

/// Options that may be given more than once: the projection's JSON Pointers
/// (`include=/a&include=/b`, read by `projection::take`); any other repeated option is refused.
pub(crate) const REPEATABLE: &[&str] = &["include", "exclude"];

/// A bad `CDC_SINKS` or `CDC_DLQ`, or a sink that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL's scheme names no sink (or dead-letter queue).
    #[error("{setting}: unknown scheme {scheme:?} in {url:?}; accepted: {accepted}")]
    UnknownScheme {
        /// `CDC_SINKS` or `CDC_DLQ`.
        setting: &'static str,
        /// The whole URL.
        url: String,
        /// The scheme found.
        scheme: String,
        /// The URL forms accepted, for the message.
        accepted: &'static str,
    },
    /// The URL has a query option its sink does not take.
    #[error("{setting}: {url:?} has unknown option {option:?}; accepted options: {accepted}")]
    UnknownOption {
        /// `CDC_SINKS` or `CDC_DLQ`.
        setting: &'static str,
        /// The whole URL.
        url: String,
        /// The first option not taken.
        option: String,
        /// The options the sink takes, comma-separated (`none` when it takes none).
        accepted: String,
    },
    /// The URL is malformed, one of its values is out of range, or (at cold start) what it
    /// names cannot be used, such as an SQS queue that does not exist.
    #[error("{setting}: {url:?}: {message}")]
    Invalid {
        /// `CDC_SINKS` or `CDC_DLQ`.
        setting: &'static str,
        /// The whole URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A `file://` sink or dead-letter file cannot be opened for appending.
    #[error("{setting}: cannot open {path}: {source}")]
    Open {
        /// `CDC_SINKS` or `CDC_DLQ`.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One parsed sink URL whose options are taken one by one by the sink's config.
#[derive(Debug)]
pub struct SinkUrl<'a> {
    /// The environment variable it came from, for error messages.
    pub setting: &'static str,
    /// The whole URL as written.
    pub raw: &'a str,
    /// What comes before `://` (or the whole URL before `?` when there is no `://`).
    pub scheme: &'a str,
    /// What comes between `://` and `?`; empty when absent.
    pub target: &'a str,
    options: Vec<(String, String)>,
}

impl<'a> SinkUrl<'a> {
    /// Splits `raw` (found in the variable `setting`) into scheme, target and options; fails
    /// only when an option is given twice.
    pub fn parse(setting: &'static str, raw: &'a str) -> Result<Self, ConfigError> {
        let (base, query) = raw.split_once('?').unwrap_or((raw, ""));
        let (scheme, target) = base.split_once("://").unwrap_or((base, ""));
        let options = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect::<Vec<_>>();
        let url = SinkUrl {
            setting,
            raw,
            scheme,
            target,
            options,
        };
        if let Some((name, _)) = url.options.iter().find(|(name, _)| {
            !REPEATABLE.contains(&name.as_str())
                && url.options.iter().filter(|(n, _)| n == name).count() > 1
        }) {
            return Err(url.invalid(format!("option {name:?} is given more than once")));
        }
        Ok(url)
    }

    /// The destination part of the URL, which must be present (spaces are never valid in it).
    pub fn required_target(&self, expected: &str) -> Result<&'a str, ConfigError> {
        let target = self.target;
        if target.is_empty() || target.chars().any(char::is_whitespace) {
            return Err(self.invalid(format!("expected {expected}")));
        }
        Ok(target)
    }

    /// Takes every value of an option that may be repeated, in order.
    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, kept) = std::mem::take(&mut self.options)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.options = kept;
        taken.into_iter().map(|(_, value)| value).collect()
    }

    /// Takes an option's value, if given.
    pub fn option(&mut self, name: &str) -> Option<String> {
        let at = self.options.iter().position(|(n, _)| n == name)?;
        Some(self.options.remove(at).1)
    }

    /// Takes an option whose value must be one of `accepted`.
    pub fn choice(
        &mut self,
        name: &str,
        accepted: &[&'static str],
    ) -> Result<Option<&'static str>, ConfigError> {
        match self.option(name) {
            None => Ok(None),
            Some(value) => accepted
                .iter()
                .find(|a| **a == value)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    self.invalid(format!(
                        "option {name}={value:?} is not one of {}",
                        accepted.join(", ")
                    ))
                }),
        }
    }

    /// Takes a whole-number option within `range`.
    pub fn number(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ConfigError> {
        match self.option(name) {
            None => Ok(None),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(self.invalid(format!(
                    "option {name}={value:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }

    /// Fails on any option the sink did not take, listing those it accepts.
    pub fn finish(self, accepted: &[&str]) -> Result<(), ConfigError> {
        match self.options.first() {
            None => Ok(()),
            Some((name, _)) => Err(ConfigError::UnknownOption {
                setting: self.setting,
                url: self.raw.to_owned(),
                option: name.clone(),
                accepted: if accepted.is_empty() {
                    "none".into()
                } else {
                    accepted.join(", ")
                },
            }),
        }
    }

    /// A [`ConfigError::Invalid`] for this URL.
    pub fn invalid(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: self.setting,
            url: self.raw.to_owned(),
            message: message.into(),
        }
    }
}
