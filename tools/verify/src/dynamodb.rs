//! Reading tables: their key (`DescribeTable`), every item in paced pages (`Scan`, consistent
//! reads, optionally in parallel segments), and single items again (`GetItem`).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{KeyType as SdkKeyType, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;
use tokio::sync::mpsc;

use crate::error::VerifyError;
use crate::item::SdkItem;
use crate::key::{KeyPart, KeyType, TableKey};
use crate::pace::Pacer;

/// The table's primary key.
pub async fn describe_key(client: &Client, table: &str) -> Result<TableKey, VerifyError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| VerifyError::Describe {
            table: table.to_owned(),
            message: sdk_message(&e),
        })?;
    let shape_error = |problem: &str| VerifyError::KeySchema {
        table: table.to_owned(),
        problem: problem.to_owned(),
    };
    let description = described
        .table
        .ok_or_else(|| shape_error("DescribeTable returned no table description"))?;
    let part = |key_type: SdkKeyType| -> Result<Option<KeyPart>, VerifyError> {
        let Some(element) = description
            .key_schema()
            .iter()
            .find(|e| *e.key_type() == key_type)
        else {
            return Ok(None);
        };
        let name = element.attribute_name();
        let kind = description
            .attribute_definitions()
            .iter()
            .find(|d| d.attribute_name() == name)
            .map(|d| d.attribute_type())
            .ok_or_else(|| shape_error(&format!("key attribute {name:?} has no definition")))?;
        let kind = match kind {
            ScalarAttributeType::S => KeyType::S,
            ScalarAttributeType::N => KeyType::N,
            ScalarAttributeType::B => KeyType::B,
            other => {
                return Err(shape_error(&format!(
                    "key attribute {name:?} has type {}; keys are S, N or B",
                    other.as_str()
                )))
            }
        };
        Ok(Some(KeyPart {
            name: name.to_owned(),
            kind,
        }))
    };
    Ok(TableKey {
        partition: part(SdkKeyType::Hash)?.ok_or_else(|| shape_error("no partition (HASH) key"))?,
        sort: part(SdkKeyType::Range)?,
    })
}

/// Scans `table` (all `segments` in parallel) into `pages`, each page's reads paced by
/// `pacer`. Returns when every segment is done; the receiver sees the channel close then.
/// At most the channel's capacity of pages waits in memory.
pub async fn scan(
    client: &Client,
    table: &str,
    segments: u32,
    pacer: &Pacer,
    pages: mpsc::Sender<Vec<SdkItem>>,
) -> Result<(), VerifyError> {
    let scans: Vec<_> = (0..segments)
        .map(|segment| scan_segment(client, table, segment, segments, pacer, pages.clone()))
        .collect();
    // Only the clones inside the segments remain: the channel closes when they finish.
    drop(pages);
    try_join_all(scans).await.map(|_| ())
}

async fn scan_segment(
    client: &Client,
    table: &str,
    segment: u32,
    segments: u32,
    pacer: &Pacer,
    pages: mpsc::Sender<Vec<SdkItem>>,
) -> Result<(), VerifyError> {
    let limit = pacer.page();
    let mut start = None;
    loop {
        pacer.reserve(limit).await;
        let mut request = client
            .scan()
            .table_name(table)
            // A replica is checked right after writes: an eventually consistent read could
            // report an item missing that is there. It costs twice the read capacity.
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        if segments > 1 {
            request = request
                .segment(segment as i32)
                .total_segments(segments as i32);
        }
        let page = request.send().await.map_err(|e| VerifyError::Scan {
            table: table.to_owned(),
            message: sdk_message(&e),
        })?;
        let scanned = u32::try_from(page.scanned_count()).unwrap_or(0);
        pacer.refund(limit.saturating_sub(scanned));
        let items = page.items.unwrap_or_default();
        if !items.is_empty() && pages.send(items).await.is_err() {
            // The consumer stopped (it failed and reports why): stop reading.
            return Ok(());
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(());
        }
    }
}

/// One item by key (consistent read), paced as one item.
pub async fn get_item(
    client: &Client,
    table: &str,
    key: SdkItem,
    pacer: &Pacer,
) -> Result<Option<SdkItem>, VerifyError> {
    pacer.reserve(1).await;
    let got = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| VerifyError::Get {
            table: table.to_owned(),
            message: sdk_message(&e),
        })?;
    Ok(got.item)
}

/// The service's error code and message, or the client-side cause (no request data: scans
/// carry none, and key values do not appear in DynamoDB's error messages).
fn sdk_message<E>(error: &aws_sdk_dynamodb::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string(),
    }
}
