//! One AWS configuration for every client of a function (sinks, state table, queues), loaded
//! once at cold start.
//!
//! `aws-config` reads credentials, region and `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) from the environment, so every sink runs against local
//! emulators unchanged. Request-level retries are the SDK's standard mode: exponential backoff
//! with jitter on throttling, 5xx and timeouts. Each sink also bounds every call by the
//! invocation's stop instant, so retries never outlive it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// Shared, lazily loaded AWS configuration.
#[derive(Default)]
pub struct AwsContext {
    config: OnceCell<SdkConfig>,
}

impl AwsContext {
    /// A context that loads its configuration from the environment on first use.
    pub fn new() -> Self {
        AwsContext::default()
    }

    /// A context using `config` as it is (tests point it at an emulator).
    pub fn with_config(config: SdkConfig) -> Self {
        AwsContext {
            config: OnceCell::from(config),
        }
    }

    /// The SDK configuration every client is built from: loaded from the environment on the
    /// first call (region, credentials, endpoint overrides), with this project's timeouts
    /// (3 s to connect, 20 s per attempt) and, unless `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`
    /// is set, standard retries of up to 8 attempts with 50 ms to 5 s of backoff.
    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                // Our retry defaults, unless the standard variables say otherwise.
                if std::env::var_os("AWS_MAX_ATTEMPTS").is_none()
                    && std::env::var_os("AWS_RETRY_MODE").is_none()
                {
                    loader = loader.retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(8)
                            .with_initial_backoff(Duration::from_millis(50))
                            .with_max_backoff(Duration::from_secs(5)),
                    );
                }
                loader
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(3))
                            .operation_attempt_timeout(Duration::from_secs(20))
                            .build(),
                    )
                    .load()
                    .await
            })
            .await
    }

    /// An S3 client for this configuration: path-style addressing when the endpoint is
    /// overridden (local emulators serve buckets by path, not by host name).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.config().await;
        // The S3-only override is resolved inside the SDK's builder, which cannot be asked.
        let custom_endpoint =
            sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(custom_endpoint)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}
