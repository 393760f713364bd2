//! Settings every function reads at cold start from environment variables, and the helpers
//! each function uses for its own: a bad value names the variable and what it accepts.

use std::time::Duration;

use cdc_record::{KeySchema, MappingOptions, TtlDeletes, ViewOnRemove};
use cdc_telemetry::Metrics;

/// A setting with a value that is not accepted.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {value:?} is not accepted; expected {accepted}")]
pub struct SettingError {
    /// The environment variable, such as `CDC_TTL_DELETES`.
    pub setting: &'static str,
    /// The value it was given.
    pub value: String,
    /// What it accepts, in words, for the error message.
    pub accepted: &'static str,
}

/// What every function reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// How long before the invocation's deadline the function stops writing.
    pub deadline_margin: Duration,
    /// The CloudWatch namespace of the function's metrics (`CDC_METRICS_NAMESPACE`,
    /// `DynamoDbCdc` by default).
    pub metrics_namespace: String,
    /// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`, `local` outside Lambda), the
    /// metrics' `FunctionName` dimension.
    pub function_name: String,
}

/// Enough to send what was written's outcome back before Lambda's own timeout.
const DEFAULT_DEADLINE_MARGIN_MS: u64 = 2_000;

impl FunctionSettings {
    /// Reads `CDC_DEADLINE_MARGIN_MS`, `CDC_METRICS_NAMESPACE` and `AWS_LAMBDA_FUNCTION_NAME`
    /// through `env` (the process environment in production).
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        Ok(FunctionSettings {
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

    /// The deadline for recording where work stopped (a checkpoint, a started export's ARN)
    /// once writing stopped at `stop_at`: half the margin is kept for it.
    pub fn bookkeeping_deadline(&self, stop_at: tokio::time::Instant) -> tokio::time::Instant {
        stop_at + self.deadline_margin / 2
    }

    /// An invocation's metrics, in the namespace, with the `FunctionName` dimension.
    pub fn metrics(&self) -> Metrics {
        Metrics::new(
            self.metrics_namespace.clone(),
            vec![("FunctionName".into(), self.function_name.clone())],
        )
    }
}

/// `CDC_VIEW_ON_REMOVE` and `CDC_TTL_DELETES`.
pub fn mapping_options(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<MappingOptions, SettingError> {
    Ok(MappingOptions {
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
    })
}

/// `CDC_KEY_SCHEMA`: `TABLE:PARTITION_KEY[:SORT_KEY]`, comma-separated.
pub fn key_schemas(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, KeySchema)>, SettingError> {
    let value = env("CDC_KEY_SCHEMA").unwrap_or_default();
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
                _ => Err(SettingError {
                    setting: "CDC_KEY_SCHEMA",
                    value: entry.to_owned(),
                    accepted: "comma-separated TABLE:PARTITION_KEY[:SORT_KEY] entries, e.g. orders:pk:sk,users:id",
                }),
            }
        })
        .collect()
}

/// Parses a setting with `parse`; unset or empty means the default (`T::default()` or `None`).
pub fn choice<T: Default>(
    setting: &'static str,
    value: Option<String>,
    accepted: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, SettingError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(v) => parse(v).ok_or_else(|| SettingError {
            setting,
            value: v.to_owned(),
            accepted,
        }),
    }
}

/// A `true`/`false` setting; unset or empty means `false`.
pub fn flag(setting: &'static str, value: Option<String>) -> Result<bool, SettingError> {
    choice(setting, value, "true or false", |v| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
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

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults() {
        let none = env(&[]);
        let s = FunctionSettings::from_env(&none).unwrap();
        assert_eq!(s.deadline_margin, Duration::from_millis(2_000));
        assert_eq!(s.metrics_namespace, "DynamoDbCdc");
        assert_eq!(s.function_name, "local");
        assert_eq!(mapping_options(&none).unwrap(), MappingOptions::default());
        assert!(key_schemas(&none).unwrap().is_empty());
    }

    #[test]
    fn reads_every_setting() {
        let e = env(&[
            ("CDC_VIEW_ON_REMOVE", "OLD_IMAGE"),
            ("CDC_TTL_DELETES", "drop"),
            ("CDC_KEY_SCHEMA", "orders:pk:sk, users:id"),
            ("CDC_DEADLINE_MARGIN_MS", "500"),
            ("CDC_METRICS_NAMESPACE", "Mine"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ]);
        let s = FunctionSettings::from_env(&e).unwrap();
        let mapping = mapping_options(&e).unwrap();
        let schemas = key_schemas(&e).unwrap();
        assert_eq!(mapping.view_on_remove, ViewOnRemove::OldImage);
        assert_eq!(mapping.ttl_deletes, TtlDeletes::Drop);
        assert_eq!(schemas[0], schema("orders", "pk", Some("sk")));
        assert_eq!(schemas[1], schema("users", "id", None));
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
        ];
        for (name, value, message) in cases {
            let pairs = [(name, value)];
            let e = env(&pairs);
            let err = FunctionSettings::from_env(&e)
                .map(|_| ())
                .and(mapping_options(&e).map(|_| ()))
                .and(key_schemas(&e).map(|_| ()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
