//! Every setting of the function, read once at cold start from environment variables.

use std::time::Duration;

use cdc_record::{KeySchema, MappingOptions, TtlDeletes, ViewOnRemove};
use cdc_sinks::{ConfigError, DeadLetterConfig, SinkConfig};

/// A bad setting, named with what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Sinks(#[from] ConfigError),
    #[error("{setting}: {value:?} is not accepted; expected {accepted}")]
    Invalid {
        setting: &'static str,
        value: String,
        accepted: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Each sink's URL and configuration.
    pub sinks: Vec<(String, SinkConfig)>,
    pub dead_letters: DeadLetterConfig,
    pub mapping: MappingOptions,
    /// Key schemas given up front; tables not listed are looked up with `DescribeTable`.
    pub key_schemas: Vec<(String, KeySchema)>,
    /// How long before the invocation's deadline the function stops writing.
    pub deadline_margin: Duration,
    pub metrics_namespace: String,
    pub function_name: String,
}

impl Settings {
    /// Reads the settings through `env` (the process environment in production).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Ok(Settings {
            sinks: SinkConfig::parse_list(env("CDC_SINKS").as_deref())?,
            dead_letters: DeadLetterConfig::parse(env("CDC_DLQ").as_deref())?,
            mapping: MappingOptions {
                view_on_remove: choice(
                    "CDC_VIEW_ON_REMOVE",
                    env("CDC_VIEW_ON_REMOVE"),
                    "NEW_IMAGE or OLD_IMAGE",
                    |v| match v {
                        "NEW_IMAGE" => Some(ViewOnRemove::NewImage),
                        "OLD_IMAGE" => Some(ViewOnRemove::OldImage),
                        _ => None,
                    },
                )?,
                ttl_deletes: choice(
                    "CDC_TTL_DELETES",
                    env("CDC_TTL_DELETES"),
                    "keep or drop",
                    |v| match v {
                        "keep" => Some(TtlDeletes::Keep),
                        "drop" => Some(TtlDeletes::Drop),
                        _ => None,
                    },
                )?,
            },
            key_schemas: key_schemas(env("CDC_KEY_SCHEMA"))?,
            deadline_margin: Duration::from_millis(
                choice(
                    "CDC_DEADLINE_MARGIN_MS",
                    env("CDC_DEADLINE_MARGIN_MS"),
                    "a whole number of milliseconds",
                    |v| v.parse::<u64>().ok().map(Some),
                )?
                .unwrap_or(DEFAULT_DEADLINE_MARGIN_MS),
            ),
            metrics_namespace: env("CDC_METRICS_NAMESPACE")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "DynamoDbCdc".into()),
            function_name: env("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
        })
    }
}

/// Enough to send what was written's outcome back before Lambda's own timeout.
const DEFAULT_DEADLINE_MARGIN_MS: u64 = 2_000;

/// Unset or empty means the default (`T::default()` or `None`).
fn choice<T: Default>(
    setting: &'static str,
    value: Option<String>,
    accepted: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, SettingsError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(v) => parse(v).ok_or_else(|| SettingsError::Invalid {
            setting,
            value: v.to_owned(),
            accepted,
        }),
    }
}

/// `TABLE:PARTITION_KEY[:SORT_KEY]`, comma-separated.
fn key_schemas(value: Option<String>) -> Result<Vec<(String, KeySchema)>, SettingsError> {
    let value = value.unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
            match parts.as_slice() {
                [table, pk] if !table.is_empty() && !pk.is_empty() => Ok(schema(table, pk, None)),
                [table, pk, sk] if !table.is_empty() && !pk.is_empty() && !sk.is_empty() => {
                    Ok(schema(table, pk, Some(sk)))
                }
                _ => Err(SettingsError::Invalid {
                    setting: "CDC_KEY_SCHEMA",
                    value: entry.to_owned(),
                    accepted: "comma-separated TABLE:PARTITION_KEY[:SORT_KEY] entries, e.g. orders:pk:sk,users:id",
                }),
            }
        })
        .collect()
}

fn schema(table: &str, pk: &str, sk: Option<&str>) -> (String, KeySchema) {
    (
        table.to_owned(),
        KeySchema {
            partition_key: pk.to_owned(),
            sort_key: sk.map(str::to_owned),
        },
    )
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
    fn defaults() {
        let s = with(&[]).unwrap();
        assert_eq!(s.sinks, vec![("stdout".to_owned(), SinkConfig::Stdout)]);
        assert_eq!(s.dead_letters, DeadLetterConfig::Stderr);
        assert_eq!(s.mapping, MappingOptions::default());
        assert!(s.key_schemas.is_empty());
        assert_eq!(s.deadline_margin, Duration::from_millis(2_000));
        assert_eq!(s.metrics_namespace, "DynamoDbCdc");
        assert_eq!(s.function_name, "local");
    }

    #[test]
    fn reads_every_setting() {
        let s = with(&[
            ("CDC_VIEW_ON_REMOVE", "OLD_IMAGE"),
            ("CDC_TTL_DELETES", "drop"),
            ("CDC_KEY_SCHEMA", "orders:pk:sk, users:id"),
            ("CDC_DEADLINE_MARGIN_MS", "500"),
            ("CDC_METRICS_NAMESPACE", "Mine"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ])
        .unwrap();
        assert_eq!(s.mapping.view_on_remove, ViewOnRemove::OldImage);
        assert_eq!(s.mapping.ttl_deletes, TtlDeletes::Drop);
        assert_eq!(s.key_schemas[0], schema("orders", "pk", Some("sk")));
        assert_eq!(s.key_schemas[1], schema("users", "id", None));
        assert_eq!(s.deadline_margin, Duration::from_millis(500));
        assert_eq!(s.metrics_namespace, "Mine");
        assert_eq!(s.function_name, "fn");
    }

    #[test]
    fn bad_settings_name_the_variable_and_what_it_accepts() {
        let cases = [
            ("CDC_VIEW_ON_REMOVE", "BOTH", "CDC_VIEW_ON_REMOVE: \"BOTH\" is not accepted; expected NEW_IMAGE or OLD_IMAGE"),
            ("CDC_TTL_DELETES", "yes", "CDC_TTL_DELETES: \"yes\" is not accepted; expected keep or drop"),
            ("CDC_KEY_SCHEMA", "orders", "CDC_KEY_SCHEMA: \"orders\" is not accepted; expected comma-separated TABLE:PARTITION_KEY[:SORT_KEY]"),
            ("CDC_KEY_SCHEMA", "a:b:c:d", "CDC_KEY_SCHEMA: \"a:b:c:d\""),
            ("CDC_DEADLINE_MARGIN_MS", "-5", "CDC_DEADLINE_MARGIN_MS: \"-5\" is not accepted; expected a whole number of milliseconds"),
            ("CDC_SINKS", "kafka://x", "CDC_SINKS: unknown scheme \"kafka\""),
            ("CDC_DLQ", "kafka", "CDC_DLQ: unknown scheme \"kafka\""),
        ];
        for (name, value, message) in cases {
            let err = with(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
