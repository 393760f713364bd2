//! Every setting of the function, read once at cold start from environment variables.

use std::time::Duration;

use cdc_exports::manifest::Format;
use cdc_lambda::settings::{choice, flag, key_schemas};
use cdc_lambda::{FunctionSettings, SettingError};
use cdc_record::KeySchema;

/// A bad setting, named with what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A setting has a value it does not accept.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A required variable (the first field) is unset; the second says what it expects.
    #[error("{0} is not set; expected {1}")]
    Missing(&'static str, &'static str),
}

/// Everything export-trigger reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The settings every function has (deadline margin, metrics namespace, function name).
    pub function: FunctionSettings,
    /// `CDC_EXPORT_TABLES`: the tables to export, by name.
    pub tables: Vec<String>,
    /// Key schemas given up front (for re-driven files); others are described.
    pub key_schemas: Vec<(String, KeySchema)>,
    /// Where and how exports are made and watched.
    pub export: ExportSettings,
}

/// Where and how exports are made, and how their loads are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// `CDC_EXPORT_BUCKET`.
    pub bucket: String,
    /// `CDC_EXPORT_PREFIX`: exports go to `PREFIX/TABLE/TOKEN/AWSDynamoDB/...`.
    pub prefix: String,
    /// `CDC_EXPORT_BUCKET_OWNER`: the bucket's account, when another account owns it.
    pub bucket_owner: Option<String>,
    /// `CDC_EXPORT_KMS_KEY`: SSE-KMS key for the exported objects (else SSE-S3).
    pub kms_key: Option<String>,
    /// `CDC_EXPORT_FORMAT`.
    pub format: Format,
    /// `CDC_EXPORT_INCREMENTAL`: scheduled runs chain incremental exports after the first full.
    pub incremental: bool,
    /// `CDC_STATE_TABLE`: jobs, and export-processor's progress.
    pub state_table: String,
    /// `CDC_EXPORT_QUEUE`: export-processor's work queue, for manifests and re-driven files.
    pub work_queue: Option<String>,
    /// `CDC_EXPORT_MAX_ATTEMPTS`: exports started per job before it gives up.
    pub max_attempts: u32,
    /// `CDC_EXPORT_NOTIFY_GRACE_MINUTES`: how long after an export completed the processor may
    /// take to read its manifest before this function sends it.
    pub notify_grace: Duration,
    /// `CDC_EXPORT_REDRIVE_AFTER_MINUTES`: a data file with no progress for this long is sent
    /// to the work queue again.
    pub redrive_after: Duration,
}

impl Settings {
    /// Reads the settings through `env` (the process environment in production).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let non_empty = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let minutes = |name: &'static str, default: u64| -> Result<Duration, SettingError> {
            Ok(Duration::from_secs(
                60 * choice(
                    name,
                    env(name),
                    "a whole number of minutes from 0 to 10080",
                    |v| v.parse::<u64>().ok().filter(|m| *m <= 10_080).map(Some),
                )?
                .unwrap_or(default),
            ))
        };
        let tables: Vec<String> = non_empty("CDC_EXPORT_TABLES")
            .ok_or(SettingsError::Missing(
                "CDC_EXPORT_TABLES",
                "comma-separated names of the tables to export",
            ))?
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tables.is_empty() {
            return Err(SettingsError::Missing(
                "CDC_EXPORT_TABLES",
                "comma-separated names of the tables to export",
            ));
        }
        Ok(Settings {
            function: FunctionSettings::from_env(&env)?,
            tables,
            key_schemas: key_schemas(&env)?,
            export: ExportSettings {
                bucket: non_empty("CDC_EXPORT_BUCKET").ok_or(SettingsError::Missing(
                    "CDC_EXPORT_BUCKET",
                    "the export bucket's name",
                ))?,
                prefix: env("CDC_EXPORT_PREFIX").unwrap_or_else(|| "exports".into()),
                bucket_owner: non_empty("CDC_EXPORT_BUCKET_OWNER"),
                kms_key: non_empty("CDC_EXPORT_KMS_KEY"),
                format: choice(
                    "CDC_EXPORT_FORMAT",
                    env("CDC_EXPORT_FORMAT"),
                    "DYNAMODB_JSON or ION",
                    |v| match v {
                        "DYNAMODB_JSON" => Some(Some(Format::DynamoDbJson)),
                        "ION" => Some(Some(Format::Ion)),
                        _ => None,
                    },
                )?
                .unwrap_or(Format::DynamoDbJson),
                incremental: flag("CDC_EXPORT_INCREMENTAL", env("CDC_EXPORT_INCREMENTAL"))?,
                state_table: non_empty("CDC_STATE_TABLE").ok_or(SettingsError::Missing(
                    "CDC_STATE_TABLE",
                    "the state table's name (shared with export-processor)",
                ))?,
                work_queue: non_empty("CDC_EXPORT_QUEUE"),
                max_attempts: choice(
                    "CDC_EXPORT_MAX_ATTEMPTS",
                    env("CDC_EXPORT_MAX_ATTEMPTS"),
                    "a whole number from 1 to 10",
                    |v| {
                        v.parse::<u32>()
                            .ok()
                            .filter(|n| (1..=10).contains(n))
                            .map(Some)
                    },
                )?
                .unwrap_or(3),
                notify_grace: minutes("CDC_EXPORT_NOTIFY_GRACE_MINUTES", 5)?,
                redrive_after: minutes("CDC_EXPORT_REDRIVE_AFTER_MINUTES", 30)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let required = [
            ("CDC_EXPORT_TABLES", "orders, users"),
            ("CDC_EXPORT_BUCKET", "exports"),
            ("CDC_STATE_TABLE", "state"),
        ];
        Settings::from_env(|name| {
            pairs
                .iter()
                .chain(required.iter())
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults() {
        let s = with(&[]).unwrap();
        assert_eq!(s.tables, ["orders", "users"]);
        let e = s.export;
        assert_eq!(
            (e.bucket.as_str(), e.prefix.as_str()),
            ("exports", "exports")
        );
        assert_eq!(
            (e.format, e.incremental, e.max_attempts),
            (Format::DynamoDbJson, false, 3)
        );
        assert_eq!(e.notify_grace, Duration::from_secs(300));
        assert_eq!(e.redrive_after, Duration::from_secs(1800));
        assert_eq!(
            (e.work_queue, e.kms_key, e.bucket_owner),
            (None, None, None)
        );
    }

    #[test]
    fn bad_or_missing_settings_name_the_variable_and_what_it_accepts() {
        let cases = [
            (
                "CDC_EXPORT_FORMAT",
                "CSV",
                "CDC_EXPORT_FORMAT: \"CSV\" is not accepted; expected DYNAMODB_JSON or ION",
            ),
            (
                "CDC_EXPORT_INCREMENTAL",
                "yes",
                "CDC_EXPORT_INCREMENTAL: \"yes\" is not accepted; expected true or false",
            ),
            (
                "CDC_EXPORT_MAX_ATTEMPTS",
                "0",
                "CDC_EXPORT_MAX_ATTEMPTS: \"0\" is not accepted",
            ),
            (
                "CDC_EXPORT_REDRIVE_AFTER_MINUTES",
                "soon",
                "CDC_EXPORT_REDRIVE_AFTER_MINUTES: \"soon\" is not accepted",
            ),
            (
                "CDC_EXPORT_TABLES",
                " ",
                "CDC_EXPORT_TABLES is not set; expected comma-separated names",
            ),
            ("CDC_STATE_TABLE", "", "CDC_STATE_TABLE is not set"),
        ];
        for (name, value, message) in cases {
            let err = with(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
