//! Every setting of the function, read once at cold start from environment variables.

use std::time::Duration;

use cdc_lambda::settings::{choice, flag, key_schemas, mapping_options};
use cdc_lambda::{FunctionSettings, SettingError};
use cdc_record::{version, KeySchema, MappingOptions};
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

/// Everything export-processor reads from its environment.
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
    /// The settings only this function reads.
    pub export: ExportSettings,
}

/// What only this function reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// `CDC_EXPORT_QUEUE`: the work queue's URL; without one, a manifest's files are loaded in
    /// the invocation that received it.
    pub work_queue: Option<String>,
    /// `CDC_STATE_TABLE`: where files' progress is kept; without one, a file stopped by the
    /// deadline starts again from its first line.
    pub state_table: Option<String>,
    /// `CDC_EXPORT_VERSION_MARGIN_MS`: how far below the export time items are versioned.
    pub version_margin_ms: i64,
    /// `CDC_EXPORT_BATCH_BYTES`: how many bytes of lines go to the sinks in one write.
    pub batch_bytes: usize,
    /// `CDC_EXPORT_LOAD_WINDOW_MINUTES`: how long a load may take; every sink must remember a
    /// delete at least that long, or a late snapshot copy could bring a deleted item back.
    pub load_window: Duration,
    /// `CDC_EXPORT_STREAM_AFTER_LOAD`: the stream is only consumed after the load completed,
    /// so sinks that forget deletes are safe.
    pub stream_after_load: bool,
}

const DEFAULT_BATCH_BYTES: usize = 2 << 20;
const DEFAULT_LOAD_WINDOW_MINUTES: u64 = 24 * 60;

impl Settings {
    /// Reads the settings through `env` (the process environment in production).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Ok(Settings {
            function: FunctionSettings::from_env(&env)?,
            sinks: SinkSettings::from_env(&env)?,
            mapping: mapping_options(&env)?,
            key_schemas: key_schemas(&env)?,
            export: ExportSettings::from_env(&env)?,
        })
    }
}

impl ExportSettings {
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let non_empty = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(ExportSettings {
            work_queue: non_empty("CDC_EXPORT_QUEUE"),
            state_table: non_empty("CDC_STATE_TABLE"),
            version_margin_ms: choice(
                "CDC_EXPORT_VERSION_MARGIN_MS",
                env("CDC_EXPORT_VERSION_MARGIN_MS"),
                "a whole number of milliseconds, at least 1000 (DynamoDB stamps stream records to the second)",
                |v| v.parse::<i64>().ok().filter(|ms| *ms >= 1_000).map(Some),
            )?
            .unwrap_or(version::DEFAULT_EXPORT_MARGIN_MS),
            batch_bytes: choice(
                "CDC_EXPORT_BATCH_BYTES",
                env("CDC_EXPORT_BATCH_BYTES"),
                "a whole number of bytes from 1024 to 67108864",
                |v| v.parse::<usize>().ok().filter(|b| (1024..=64 << 20).contains(b)).map(Some),
            )?
            .unwrap_or(DEFAULT_BATCH_BYTES),
            load_window: Duration::from_secs(
                60 * choice(
                    "CDC_EXPORT_LOAD_WINDOW_MINUTES",
                    env("CDC_EXPORT_LOAD_WINDOW_MINUTES"),
                    "a whole number of minutes from 1 to 525600",
                    |v| v.parse::<u64>().ok().filter(|m| (1..=525_600).contains(m)).map(Some),
                )?
                .unwrap_or(DEFAULT_LOAD_WINDOW_MINUTES),
            ),
            stream_after_load: flag("CDC_EXPORT_STREAM_AFTER_LOAD", env("CDC_EXPORT_STREAM_AFTER_LOAD"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_env(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_load_in_the_invocation_without_checkpoints() {
        let s = with(&[]).unwrap().export;
        assert_eq!(s.work_queue, None);
        assert_eq!(s.state_table, None);
        assert_eq!(s.version_margin_ms, version::DEFAULT_EXPORT_MARGIN_MS);
        assert_eq!(s.batch_bytes, 2 << 20);
        assert_eq!(s.load_window, Duration::from_secs(86_400));
        assert!(!s.stream_after_load);
    }

    #[test]
    fn reads_every_setting() {
        let s = with(&[
            (
                "CDC_EXPORT_QUEUE",
                "https://sqs.us-east-1.amazonaws.com/1/work",
            ),
            ("CDC_STATE_TABLE", "state"),
            ("CDC_EXPORT_VERSION_MARGIN_MS", "5000"),
            ("CDC_EXPORT_BATCH_BYTES", "4096"),
            ("CDC_EXPORT_LOAD_WINDOW_MINUTES", "90"),
            ("CDC_EXPORT_STREAM_AFTER_LOAD", "true"),
        ])
        .unwrap()
        .export;
        assert_eq!(
            s.work_queue.as_deref(),
            Some("https://sqs.us-east-1.amazonaws.com/1/work")
        );
        assert_eq!(s.state_table.as_deref(), Some("state"));
        assert_eq!(s.version_margin_ms, 5000);
        assert_eq!(s.batch_bytes, 4096);
        assert_eq!(s.load_window, Duration::from_secs(5400));
        assert!(s.stream_after_load);
    }

    #[test]
    fn bad_settings_name_the_variable_and_what_it_accepts() {
        let cases = [
            ("CDC_EXPORT_VERSION_MARGIN_MS", "500", "CDC_EXPORT_VERSION_MARGIN_MS: \"500\" is not accepted; expected a whole number of milliseconds, at least 1000"),
            ("CDC_EXPORT_BATCH_BYTES", "1", "CDC_EXPORT_BATCH_BYTES: \"1\" is not accepted"),
            ("CDC_EXPORT_LOAD_WINDOW_MINUTES", "0", "CDC_EXPORT_LOAD_WINDOW_MINUTES: \"0\" is not accepted"),
            ("CDC_EXPORT_STREAM_AFTER_LOAD", "yes", "CDC_EXPORT_STREAM_AFTER_LOAD: \"yes\" is not accepted; expected true or false"),
            ("CDC_SINKS", "kafka://x", "CDC_SINKS: unknown scheme \"kafka\""),
        ];
        for (name, value, message) in cases {
            let err = with(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
