//! How requests to the cluster (bulk writes, the `index.gc_deletes` lookup) authenticate:
//! not at all, SigV4 with the function's AWS credentials (managed domains sign for service
//! `es`, serverless collections for `aoss`), or HTTP basic auth with a user and password kept
//! in a Secrets Manager secret. Every request goes through [`Auth::headers`], so all of them
//! authenticate alike. A 401 or 403 makes the next request resolve credentials afresh: SigV4
//! credentials at once, the basic-auth secret at most once per [`SECRET_REREAD_INTERVAL`] (so a
//! rotated password does not stall a warm function, and a wrong one does not hammer Secrets
//! Manager).

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use tokio::sync::Mutex;

use crate::retry::error_chain;
use cdc_lambda::AwsContext;

/// Authentication as configured (no I/O yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// `auth=none`: requests carry no credentials (the default for `opensearch+http`).
    None,
    /// `auth=sigv4`: requests are signed with the function's AWS credentials (the default for
    /// `opensearch+https`).
    SigV4 {
        /// The service signed for: `es` for domains, `aoss` for serverless collections.
        service: SigV4Service,
        /// `None`: the region of the AWS configuration.
        region: Option<String>,
    },
    /// `auth=basic`: HTTP basic auth with a user and password read from Secrets Manager at
    /// cold start.
    Basic {
        /// Secrets Manager secret id or ARN holding `{"username": ..., "password": ...}`.
        secret: String,
    },
}

/// The service name requests are signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigV4Service {
    /// Amazon OpenSearch Service domains.
    Es,
    /// Amazon OpenSearch Serverless collections.
    Aoss,
}

impl SigV4Service {
    /// The service name in the signature: `es` or `aoss`.
    pub fn name(self) -> &'static str {
        match self {
            SigV4Service::Es => "es",
            SigV4Service::Aoss => "aoss",
        }
    }
}

/// Why authentication could not be set up at cold start.
#[derive(Debug, thiserror::Error)]
pub(super) enum AuthSetupError {
    #[error("auth=sigv4 needs AWS credentials, and the AWS configuration has none")]
    NoCredentials,
    #[error("auth=sigv4 needs a region: set AWS_REGION or the option region=")]
    NoRegion,
    #[error("cannot read the Secrets Manager secret {secret:?} (auth=basic): {message}")]
    Secret { secret: String, message: String },
}

/// Why one request could not be authenticated (retryable: credentials come back).
#[derive(Debug, thiserror::Error)]
pub(super) enum AuthError {
    #[error("cannot get AWS credentials to sign the request: {0}")]
    Credentials(String),
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

/// Ready-to-use authentication.
pub(super) enum Auth {
    None,
    Basic(Box<Basic>),
    SigV4(Box<SigV4>),
}

/// How often a refused basic-auth password may be re-read from its secret.
pub const SECRET_REREAD_INTERVAL: Duration = Duration::from_secs(60);

/// Basic auth from a Secrets Manager secret, re-read when the cluster refuses it.
pub(super) struct Basic {
    config: SdkConfig,
    secret: String,
    value: std::sync::Mutex<HeaderValue>,
    /// When the secret was last re-read after a refusal.
    reread_at: Mutex<Option<Instant>>,
}

impl Basic {
    fn header(&self) -> HeaderValue {
        self.value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the secret again unless that was done within the interval.
    async fn reread(&self) {
        let mut reread_at = self.reread_at.lock().await;
        if reread_at.is_some_and(|at| at.elapsed() < SECRET_REREAD_INTERVAL) {
            return;
        }
        *reread_at = Some(Instant::now());
        match basic_from_secret(&self.config, &self.secret).await {
            Ok(value) => {
                *self
                    .value
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
                tracing::info!(secret = %self.secret, "the cluster refused the basic-auth credentials: re-read their secret");
            }
            Err(message) => {
                tracing::warn!(secret = %self.secret, %message, "the cluster refused the basic-auth credentials, and their secret cannot be re-read");
            }
        }
    }
}

impl Auth {
    pub(super) async fn build(
        config: &AuthConfig,
        aws: &AwsContext,
    ) -> Result<Auth, AuthSetupError> {
        match config {
            AuthConfig::None => Ok(Auth::None),
            AuthConfig::SigV4 { service, region } => {
                SigV4::new(aws.config().await, *service, region.as_deref())
                    .map(|signer| Auth::SigV4(Box::new(signer)))
            }
            AuthConfig::Basic { secret } => {
                let config = aws.config().await.clone();
                let value = basic_from_secret(&config, secret)
                    .await
                    .map_err(|message| AuthSetupError::Secret {
                        secret: secret.clone(),
                        message,
                    })?;
                Ok(Auth::Basic(Box::new(Basic {
                    config,
                    secret: secret.clone(),
                    value: std::sync::Mutex::new(value),
                    reread_at: Mutex::new(None),
                })))
            }
        }
    }

    /// The headers that authenticate `request`; it must be sent exactly as described (a
    /// signature covers the method, the URL with its query, the content type and the body).
    pub(super) async fn headers(
        &self,
        request: &Unsigned<'_>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
        match self {
            Auth::None => Ok(Vec::new()),
            Auth::Basic(basic) => Ok(vec![(AUTHORIZATION, basic.header())]),
            Auth::SigV4(signer) => signer.headers(request).await,
        }
    }

    /// The server refused our credentials: resolve them afresh for the next request.
    pub(super) async fn refused(&self) {
        match self {
            Auth::None => {}
            Auth::Basic(basic) => basic.reread().await,
            Auth::SigV4(signer) => *signer.cached.lock().await = None,
        }
    }
}

/// A request about to be sent, as far as authentication needs to know it.
pub(super) struct Unsigned<'a> {
    pub(super) method: &'a str,
    /// The full URL, query included, exactly as sent.
    pub(super) url: &'a str,
    /// The `Content-Type` header sent, if any (signed along, so it cannot be changed).
    pub(super) content_type: Option<&'a str>,
    pub(super) body: &'a [u8],
}

/// Credentials this close to expiry are refreshed before signing, so a request never
/// reaches the server with credentials that expired on the way.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

pub(super) struct SigV4 {
    service: SigV4Service,
    region: String,
    provider: SharedCredentialsProvider,
    /// The SDK's providers do not cache (its clients do), so we keep the last credentials
    /// until they are about to expire; static ones (Lambda's environment) never do.
    cached: Mutex<Option<Credentials>>,
}

impl SigV4 {
    fn new(
        config: &SdkConfig,
        service: SigV4Service,
        region: Option<&str>,
    ) -> Result<SigV4, AuthSetupError> {
        let provider = config
            .credentials_provider()
            .ok_or(AuthSetupError::NoCredentials)?;
        let region = region
            .map(str::to_owned)
            .or_else(|| config.region().map(|r| r.as_ref().to_owned()))
            .ok_or(AuthSetupError::NoRegion)?;
        Ok(SigV4 {
            service,
            region,
            provider,
            cached: Mutex::new(None),
        })
    }

    async fn credentials(&self) -> Result<Credentials, AuthError> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
        };
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| AuthError::Credentials(error_chain(&e)))?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    async fn headers(
        &self,
        request: &Unsigned<'_>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
        let identity = self.credentials().await?.into();
        let mut settings = SigningSettings::default();
        if self.service == SigV4Service::Aoss {
            // Serverless collections require the payload hash as a header.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service.name())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| AuthError::Signing(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            request.method,
            request.url,
            request
                .content_type
                .map(|value| ("content-type", value))
                .into_iter(),
            SignableBody::Bytes(request.body),
        )
        .map_err(|e| AuthError::Signing(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| AuthError::Signing(e.to_string()))?
            .into_parts();
        instructions
            .headers()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| AuthError::Signing(e.to_string()))?;
                let mut value =
                    HeaderValue::from_str(value).map_err(|e| AuthError::Signing(e.to_string()))?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect()
    }
}

#[derive(serde::Deserialize)]
struct BasicSecret {
    username: String,
    password: String,
}

/// Reads the secret into an `Authorization: Basic ...` value (at cold start, and again when
/// the cluster refuses it).
async fn basic_from_secret(config: &SdkConfig, secret: &str) -> Result<HeaderValue, String> {
    let output = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| aws_smithy_types::error::display::DisplayErrorContext(e).to_string())?;
    let text = output
        .secret_string()
        .ok_or("it has no SecretString (a binary secret is not supported)")?;
    // Only the position of a parse error is reported: serde's messages may quote the value.
    let BasicSecret { username, password } = serde_json::from_str(text).map_err(|e| {
        format!(
            "it is not a JSON object with string fields \"username\" and \"password\" \
             (error at line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    if username.contains(':') {
        return Err("its username contains ':', which basic auth cannot carry".into());
    }
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut value = HeaderValue::from_str(&format!("Basic {token}"))
        .map_err(|_| "it does not make a valid Authorization header".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}
