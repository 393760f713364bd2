//! `opensearch+https://HOST[:PORT]/INDEX` (and `opensearch+http://` for local clusters): each
//! change becomes an operation of the Bulk API (`POST /_bulk`, NDJSON).
//!
//! - INDEX (`Action::Index`) → `{"index":{"_index":INDEX,"_id":primary_key,"version":
//!   document_version,"version_type":"external_gte"}}` and the document (`{}` if none);
//!   REMOVE (`Action::Delete`) → the same `delete` operation without a document.
//! - `external_gte` makes every write idempotent and order-proof: a replayed or late change
//!   with an older version is refused with a 409 version conflict, which counts as success
//!   (the index already holds something newer). Deletes are the exception, see below.
//! - Within one write only each document's last change is sent (the earlier ones would be
//!   superseded anyway), so no `_id` appears in two requests and the requests of one write
//!   can run concurrently. Requests are capped at `max_bytes`.
//! - Per item: 2xx, a version conflict, or deleting a missing document → accepted; 429, 5xx,
//!   access, missing or blocked index → retried with backoff until the deadline, then
//!   reported retryable; any other 4xx (mapping errors) → permanent (dead-lettered). A whole
//!   request failing with a connection error, 408, 429 or 5xx is retried likewise; 413 halves
//!   the request (a single operation too large is permanent); 401, 403 and other 4xx fail its
//!   records as retryable at once: credentials and settings get fixed, records must not be
//!   lost.
//!
//! `{table}` in INDEX stands for the source table's name in lowercase (index names must be
//! lowercase).
//!
//! # Deletes and snapshot loads (`index.gc_deletes`)
//!
//! A delete removes the document; what refuses an older copy afterwards is the delete's
//! version, which OpenSearch remembers (a tombstone) only for the index's `index.gc_deletes`:
//! 60s by default, any time value when set, `0` or `-1` for not at all. Once that has passed,
//! `external_gte` finds nothing to compare with and accepts any version, however old.
//!
//! That matters when a table's snapshot (a point-in-time export) is loaded while the stream
//! keeps running: an item deleted by the stream after the export time still has its snapshot
//! copy on the way, with a version below the delete's. If the copy arrives within
//! `index.gc_deletes` of the delete it is refused; later, it brings the deleted item back and
//! nothing ever removes it again. So the export loader asks [`Sink::delete_memory`] first,
//! which reads the setting in force for the table's index with
//! `GET /INDEX/_settings/index.gc_deletes?include_defaults=true&flat_settings=true`,
//! authenticated like the bulk requests (a role that writes needs the settings-read
//! permission too, `indices:monitor/settings/get` or `es:ESHttpGet`), and answers
//! `For(duration)` (`Never` for `0`, `-1` or under a millisecond; the shortest when INDEX is
//! an alias over several indices). To load safely, set it longer than the load on the index
//! beforehand (`PUT /INDEX/_settings {"index.gc_deletes": "6h"}`, it is dynamic) and put it
//! back afterwards: OpenSearch keeps tombstones in memory, which is also why a shard that
//! restarts or relocates during the load may forget deletes sooner than the setting says.
//!
//! The answer is an error, naming the sink and the index, when:
//! - the index does not exist yet: it gets its `index.gc_deletes` when the first write
//!   creates it, from a matching index template, else the 60s default (the error says so and
//!   [`DeleteMemoryError::default_memory`] returns that default); creating the index with the
//!   setting before the load removes the doubt;
//! - the collection is OpenSearch Serverless (`service=aoss`): it answers
//!   `GET /INDEX/_settings`, but it manages its indexes itself and documents neither
//!   `index.gc_deletes` nor how long it keeps a deleted document's version, so a value read
//!   there would promise nothing; no request is sent;
//! - the cluster cannot be reached, refuses the credentials (401, 403), answers something
//!   else than the setting, or a value that is not an OpenSearch time value; unreachable,
//!   throttled and 5xx answers are retried until the deadline first.
//!
//! Options:
//! - `auth=none|sigv4|basic`: default `sigv4` for `opensearch+https`, `none` for
//!   `opensearch+http`.
//! - `service=es|aoss` (sigv4): the service signed for; default `aoss` when HOST ends with
//!   `.aoss.amazonaws.com`, else `es`. Serverless collections need the search collection
//!   type (time-series collections do not accept custom `_id`s).
//! - `region=` (sigv4): default the AWS configuration's region (`AWS_REGION`).
//! - `secret=SECRET_ID` (basic, required): a Secrets Manager secret whose SecretString is
//!   `{"username": ..., "password": ...}`, read at cold start and again (at most once a
//!   minute) when the cluster answers 401 or 403, so a rotated password is picked up.
//! - `insecure_basic_auth=true` (basic): allows basic auth over `opensearch+http://`, which
//!   sends the password in clear text; refused without it. For local test clusters only.
//! - `max_bytes=` bulk request size cap, default 5 MiB (managed domains accept 10 MiB or
//!   more).
//! - `timeout_ms=` per HTTP request, default 30000.
//! - `concurrency=` bulk requests in flight per write, default 4.

mod auth;
mod bulk;
mod gc_deletes;
mod time_value;
mod write;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use tokio::time::Instant;

use crate::per_table::PerTable;
use crate::sink::{Calls, DeleteMemory, SharedError, Sink, WriteReport};
use crate::url::SinkUrl;
use crate::url::{ConfigError, SINKS_SETTING};
use cdc_lambda::AwsContext;

pub use auth::{AuthConfig, SigV4Service};
pub use bulk::ItemError;
pub use gc_deletes::{DeleteMemoryError, DeleteMemoryProblem, DEFAULT_GC_DELETES};
pub use time_value::TimeValueError;

pub(crate) const NDJSON: &str = "application/x-ndjson";

pub(crate) const OPTIONS: &[&str] = &[
    "auth",
    "service",
    "region",
    "secret",
    "insecure_basic_auth",
    "max_bytes",
    "timeout_ms",
    "concurrency",
];

const FORM: &str = "expected opensearch+https://HOST[:PORT]/INDEX or opensearch+http://HOST[:PORT]/INDEX ({table} allowed in INDEX)";

/// `opensearch+https://HOST[:PORT]/INDEX?...` (or `opensearch+http://`), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSearchConfig {
    /// `https://HOST[:PORT]` (or `http://`), without a trailing slash.
    pub endpoint: String,
    /// The index (or alias) written to; `{table}` stands for the source table's name in
    /// lowercase.
    pub index: PerTable,
    /// How requests authenticate (`auth=`, `service=`, `region=`, `secret=`).
    pub auth: AuthConfig,
    /// The largest bulk request body, in bytes (`max_bytes=`, 5 MiB by default).
    pub max_bytes: usize,
    /// The timeout of each HTTP request (`timeout_ms=`, 30 s by default).
    pub timeout: Duration,
    /// Bulk requests in flight at once per write (`concurrency=`, 4 by default).
    pub concurrency: usize,
}

impl OpenSearchConfig {
    /// Reads the endpoint, the index and the options listed in the module docs; fails on a
    /// malformed endpoint or index name, credentials in the URL, an option that does not fit
    /// the chosen `auth`, and any unknown option or out-of-range value.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let scheme = match url.scheme {
            "opensearch+https" => "https",
            "opensearch+http" => "http",
            _ => return Err(url.invalid(FORM)),
        };
        let Some((authority, index)) = url.target.split_once('/') else {
            return Err(url.invalid(FORM));
        };
        let endpoint = endpoint(&url, scheme, authority)?;
        check_index(&url, index)?;
        let auth = auth_options(&mut url, scheme, authority)?;
        let max_bytes = url
            .number("max_bytes", 1024..=100 << 20)?
            .unwrap_or(5 << 20);
        let timeout_ms = url.number("timeout_ms", 100..=900_000)?.unwrap_or(30_000);
        let concurrency = url.number("concurrency", 1..=64)?.unwrap_or(4);
        let config = OpenSearchConfig {
            endpoint,
            index: PerTable::new(index),
            auth,
            max_bytes: max_bytes as usize,
            timeout: Duration::from_millis(timeout_ms),
            concurrency: concurrency as usize,
        };
        url.finish(OPTIONS)?;
        Ok(config)
    }

    /// Creates the HTTP client and resolves authentication (reads the basic-auth secret).
    pub async fn build(&self, name: &str, aws: &AwsContext) -> Result<OpenSearchSink, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            setting: SINKS_SETTING,
            url: name.to_owned(),
            message,
        };
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            // A redirected request would lose its body or its signature: report it instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("cannot create the HTTP client: {e}")))?;
        let auth = auth::Auth::build(&self.auth, aws)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        Ok(OpenSearchSink {
            name: name.to_owned(),
            bulk_url: format!("{}/_bulk", self.endpoint),
            client,
            auth,
            config: self.clone(),
            calls: Calls::default(),
        })
    }
}

/// `HOST[:PORT]` → `scheme://HOST[:PORT]`, checked to be nothing more than that.
fn endpoint(url: &SinkUrl<'_>, scheme: &str, authority: &str) -> Result<String, ConfigError> {
    if authority.contains('@') {
        return Err(url.invalid(
            "credentials do not belong in the URL: use auth=basic&secret=SECRET_ID \
             (a Secrets Manager secret) or auth=sigv4",
        ));
    }
    let endpoint = format!("{scheme}://{authority}");
    match reqwest::Url::parse(&endpoint) {
        Ok(parsed)
            if !authority.is_empty()
                && parsed.host_str().is_some()
                && parsed.path() == "/"
                && parsed.query().is_none()
                && parsed.fragment().is_none() =>
        {
            Ok(endpoint)
        }
        Ok(_) => Err(url.invalid(format!("{authority:?} is not HOST[:PORT]; {FORM}"))),
        Err(e) => Err(url.invalid(format!("{authority:?} is not HOST[:PORT] ({e}); {FORM}"))),
    }
}

/// OpenSearch's index name rules, checked on the literal part of the template.
fn check_index(url: &SinkUrl<'_>, index: &str) -> Result<(), ConfigError> {
    let bad = |problem: String| Err(url.invalid(format!("bad index {index:?}: {problem}")));
    let literal = index.replace("{table}", "");
    if index.is_empty() {
        return bad("the index name is missing".into());
    }
    if index.len() > 255 {
        return bad("an index name has at most 255 bytes".into());
    }
    if index == "." || index == ".." {
        return bad("an index cannot be named . or ..".into());
    }
    if index.starts_with(['_', '-', '+']) {
        return bad("an index name cannot start with _, - or +".into());
    }
    if literal.contains(['{', '}']) {
        return bad("only {table} can be substituted in the index name".into());
    }
    match literal
        .chars()
        .find(|c| c.is_uppercase() || "\\/*?\"<>|, #:".contains(*c))
    {
        Some(c) => bad(format!(
            "an index name must be lowercase, without spaces or any of \\/*?\"<>|,#: (found {c:?})"
        )),
        None => Ok(()),
    }
}

fn auth_options(
    url: &mut SinkUrl<'_>,
    scheme: &str,
    authority: &str,
) -> Result<AuthConfig, ConfigError> {
    let default = if scheme == "https" { "sigv4" } else { "none" };
    let kind = url
        .choice("auth", &["none", "sigv4", "basic"])?
        .unwrap_or(default);
    let service = url.choice("service", &["es", "aoss"])?;
    let region = url.option("region");
    let secret = url.option("secret");
    let insecure = url.choice("insecure_basic_auth", &["true", "false"])? == Some("true");
    let only = |option: &str, given: bool, auth: &str| {
        if given {
            Err(url.invalid(format!(
                "option {option} is only for auth={auth} (this URL has auth={kind})"
            )))
        } else {
            Ok(())
        }
    };
    match kind {
        "sigv4" => {
            only("secret", secret.is_some(), "basic")?;
            let host = authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host);
            let service = match service {
                Some("aoss") => SigV4Service::Aoss,
                Some(_) => SigV4Service::Es,
                None if host.ends_with(".aoss.amazonaws.com") => SigV4Service::Aoss,
                None => SigV4Service::Es,
            };
            if region.as_deref() == Some("") {
                return Err(url.invalid("option region is empty"));
            }
            Ok(AuthConfig::SigV4 { service, region })
        }
        "basic" => {
            only("service", service.is_some(), "sigv4")?;
            only("region", region.is_some(), "sigv4")?;
            if scheme == "http" && !insecure {
                return Err(url.invalid(
                    "auth=basic over opensearch+http:// would send the password in clear text: \
                     use opensearch+https:// (insecure_basic_auth=true allows it, for a local \
                     test cluster only)",
                ));
            }
            match secret {
                Some(secret) if !secret.is_empty() => Ok(AuthConfig::Basic { secret }),
                _ => Err(url.invalid(
                    "auth=basic needs secret=SECRET_ID: a Secrets Manager secret holding \
                     {\"username\": ..., \"password\": ...}",
                )),
            }
        }
        _ => {
            only("service", service.is_some(), "sigv4")?;
            only("region", region.is_some(), "sigv4")?;
            only("secret", secret.is_some(), "basic")?;
            only("insecure_basic_auth", insecure, "basic")?;
            Ok(AuthConfig::None)
        }
    }
}

/// The `opensearch+https://` and `opensearch+http://` sink.
pub struct OpenSearchSink {
    name: String,
    bulk_url: String,
    client: reqwest::Client,
    auth: auth::Auth,
    config: OpenSearchConfig,
    calls: Calls,
}

#[async_trait]
impl Sink for OpenSearchSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        write::write(self, records, deadline).await
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }

    /// The `index.gc_deletes` of the table's index (see the module docs).
    async fn delete_memory(
        &self,
        table: &str,
        deadline: Instant,
    ) -> Result<DeleteMemory, SharedError> {
        gc_deletes::delete_memory(self, table, deadline)
            .await
            .map_err(|e| Arc::new(e) as SharedError)
    }
}

impl OpenSearchSink {
    /// The index `table`'s changes go to: `{table}` is its name in lowercase, as index names
    /// must be. Writes and the `index.gc_deletes` lookup both use this.
    fn index_for(&self, table: &str) -> Cow<'_, str> {
        self.config.index.for_table(&table.to_ascii_lowercase())
    }

    fn count_call(&self) {
        self.calls.add();
    }
}
