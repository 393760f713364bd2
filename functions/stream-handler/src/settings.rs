//! Every setting of the function, read once at cold start from environment variables.

use std::time::Duration;

use cdc_lambda::settings::{choice, flag, key_schemas, mapping_options};
use cdc_lambda::{FunctionSettings, SettingError};
use cdc_record::{KeySchema, MappingOptions};
use cdc_sinks::{ConfigError, SinkSettings};

/// A bad setting, named with what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `CDC_SINKS` or `CDC_DLQ` is invalid, or a sink or the dead-letter queue cannot be set up.
    #[error(transparent)]
    Sinks(#[from] ConfigError),
    /// Another setting has a value it does not accept.
    #[error(transparent)]
    Setting(#[from] SettingError),
}

/// Everything stream-handler reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The settings every function has (deadline margin, metrics namespace, function name).
    pub function: FunctionSettings,
    /// `CDC_SINKS` and `CDC_DLQ`.
    pub sinks: SinkSettings,
    /// `CDC_VIEW_ON_REMOVE` and `CDC_TTL_DELETES`.
    pub mapping: MappingOptions,
    /// Key schemas given up front; tables not listed are looked up with `DescribeTable`.
    pub key_schemas: Vec<(String, KeySchema)>,
    /// `CDC_MAX_RECORD_AGE` (seconds): a record older than this that a sink still fails is
    /// dead-lettered whole and the batch goes on, before Lambda would give up on it.
    pub max_record_age: Option<Duration>,
    /// `CDC_REDRIVE_FORCE=true`: `--redrive` even into sinks that forget deletes sooner than
    /// the oldest letter's age (an operator who knows no item was deleted since).
    pub redrive_force: bool,
}

/// The event source mapping's `MaximumRecordAgeInSeconds`, as template.yaml passes it.
const MAPPING_RECORD_AGE: &str = "CDC_MAPPING_MAX_RECORD_AGE";
const MAX_RECORD_AGE: &str = "CDC_MAX_RECORD_AGE";

/// `CDC_MAX_RECORD_AGE`, which must be below the mapping's record age (when given): past that,
/// Lambda drops the record itself and only the on-failure destination would see it.
fn max_record_age(env: &impl Fn(&str) -> Option<String>) -> Result<Option<Duration>, SettingError> {
    let seconds = |setting: &'static str, accepted: &'static str| {
        choice(setting, env(setting), accepted, |v| {
            v.parse::<u64>()
                .ok()
                .filter(|s| (60..=86_400).contains(s))
                .map(Some)
        })
    };
    let mapping = seconds(MAPPING_RECORD_AGE, "whole seconds from 60 to 86400")?;
    let age = seconds(MAX_RECORD_AGE, "whole seconds from 60 to 86400")?;
    match (age, mapping) {
        (Some(age), Some(mapping)) if age >= mapping => Err(SettingError {
            setting: MAX_RECORD_AGE,
            value: age.to_string(),
            accepted: "fewer seconds than the event source mapping's MaximumRecordAgeInSeconds (CDC_MAPPING_MAX_RECORD_AGE), so records are dead-lettered before Lambda drops them",
        }),
        _ => Ok(age.map(Duration::from_secs)),
    }
}

impl Settings {
    /// Reads the settings through `env` (the process environment in production).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Ok(Settings {
            function: FunctionSettings::from_env(&env)?,
            sinks: SinkSettings::from_env(&env)?,
            mapping: mapping_options(&env)?,
            key_schemas: key_schemas(&env)?,
            max_record_age: max_record_age(&env)?,
            redrive_force: flag("CDC_REDRIVE_FORCE", env("CDC_REDRIVE_FORCE"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdc_sinks::{DeadLetterConfig, SinkConfig};

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_env(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_write_to_stdout_and_dead_letter_to_stderr() {
        let s = with(&[]).unwrap();
        assert_eq!(
            s.sinks.sinks,
            vec![("stdout".to_owned(), SinkConfig::Stdout)]
        );
        assert_eq!(s.sinks.dead_letters, DeadLetterConfig::Stderr);
        assert_eq!(s.mapping, MappingOptions::default());
        assert!(s.key_schemas.is_empty());
    }

    #[test]
    fn the_record_age_must_be_below_the_mappings() {
        let ok = with(&[
            ("CDC_MAX_RECORD_AGE", "79200"),
            ("CDC_MAPPING_MAX_RECORD_AGE", "82800"),
        ])
        .unwrap();
        assert_eq!(ok.max_record_age, Some(Duration::from_secs(79_200)));
        let err = with(&[
            ("CDC_MAX_RECORD_AGE", "82800"),
            ("CDC_MAPPING_MAX_RECORD_AGE", "82800"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("fewer seconds than the event source mapping's"),
            "{err}"
        );
        assert_eq!(with(&[]).unwrap().max_record_age, None);
    }

    #[test]
    fn bad_settings_name_the_variable_and_what_it_accepts() {
        let cases = [
            (
                "CDC_VIEW_ON_REMOVE",
                "BOTH",
                "CDC_VIEW_ON_REMOVE: \"BOTH\" is not accepted; expected NEW_IMAGE or OLD_IMAGE",
            ),
            (
                "CDC_KEY_SCHEMA",
                "orders",
                "CDC_KEY_SCHEMA: \"orders\" is not accepted",
            ),
            (
                "CDC_DEADLINE_MARGIN_MS",
                "-5",
                "CDC_DEADLINE_MARGIN_MS: \"-5\" is not accepted",
            ),
            (
                "CDC_SINKS",
                "kafka://x",
                "CDC_SINKS: unknown scheme \"kafka\"",
            ),
            ("CDC_DLQ", "kafka", "CDC_DLQ: unknown scheme \"kafka\""),
            (
                "CDC_MAX_RECORD_AGE",
                "30",
                "CDC_MAX_RECORD_AGE: \"30\" is not accepted; expected whole seconds from 60 to 86400",
            ),
        ];
        for (name, value, message) in cases {
            let err = with(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
