//! Which attributes form each table's key: stream records carry `Keys` but not which one is
//! the partition key, so we take it from `CDC_KEY_SCHEMA` or ask `DescribeTable` once per table.

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::AwsContext;
use aws_sdk_dynamodb::types::KeyType;
use cdc_record::KeySchema;
use tokio::sync::{Mutex, OnceCell};
use tokio::time::{timeout_at, Instant};

/// A table's key schema is neither configured nor could be read with `DescribeTable`.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the key schema of table {table:?} (set CDC_KEY_SCHEMA=TABLE:PARTITION_KEY[:SORT_KEY] or allow dynamodb:DescribeTable): {reason}")]
pub struct KeySchemaError {
    /// The table whose key schema was wanted.
    pub table: String,
    /// Why it could not be read: the SDK error, a missing HASH key, or the deadline.
    pub reason: String,
}

/// Configured key schemas, plus those described so far (kept for the container's life).
pub struct KeySchemas {
    known: Mutex<HashMap<String, Arc<KeySchema>>>,
    aws: Arc<AwsContext>,
    client: OnceCell<aws_sdk_dynamodb::Client>,
}

impl KeySchemas {
    /// Starts with the `configured` schemas (from `CDC_KEY_SCHEMA`); other tables are
    /// described through `aws` when first asked for.
    pub fn new(configured: Vec<(String, KeySchema)>, aws: Arc<AwsContext>) -> Self {
        KeySchemas {
            known: Mutex::new(
                configured
                    .into_iter()
                    .map(|(t, s)| (t, Arc::new(s)))
                    .collect(),
            ),
            aws,
            client: OnceCell::new(),
        }
    }

    /// The table's key schema, described at most once; gives up at `stop_at` so that the
    /// invocation still ends before Lambda's deadline.
    pub async fn get(
        &self,
        table: &str,
        stop_at: Instant,
    ) -> Result<Arc<KeySchema>, KeySchemaError> {
        if let Some(schema) = self.known.lock().await.get(table) {
            return Ok(schema.clone());
        }
        let schema = Arc::new(self.describe(table, stop_at).await?);
        self.known
            .lock()
            .await
            .insert(table.to_owned(), schema.clone());
        Ok(schema)
    }

    /// The table's key schema as `DescribeTable` gives it now (not cached), by `stop_at`.
    pub async fn describe(
        &self,
        table: &str,
        stop_at: Instant,
    ) -> Result<KeySchema, KeySchemaError> {
        timeout_at(stop_at, self.describe_now(table))
            .await
            .map_err(|_| KeySchemaError {
                table: table.to_owned(),
                reason: "no answer from DescribeTable before the invocation's deadline".into(),
            })?
    }

    async fn describe_now(&self, table: &str) -> Result<KeySchema, KeySchemaError> {
        let fail = |reason: String| KeySchemaError {
            table: table.to_owned(),
            reason,
        };
        let client = self
            .client
            .get_or_init(|| async { aws_sdk_dynamodb::Client::new(self.aws.config().await) })
            .await;
        let output = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| fail(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        described_key_schema(output.table())
            .ok_or_else(|| fail("DescribeTable returned no HASH key".into()))
    }
}

/// The key schema in a `DescribeTable` answer; `None` when it names no HASH key.
pub fn described_key_schema(
    table: Option<&aws_sdk_dynamodb::types::TableDescription>,
) -> Option<KeySchema> {
    let elements = table.map(|t| t.key_schema()).unwrap_or_default();
    let name_of = |kind: KeyType| {
        elements
            .iter()
            .find(|e| e.key_type() == &kind)
            .map(|e| e.attribute_name().to_owned())
    };
    Some(KeySchema {
        partition_key: name_of(KeyType::Hash)?,
        sort_key: name_of(KeyType::Range),
    })
}
