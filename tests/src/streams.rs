//! Reads a table's stream through the DynamoDB Streams API and turns each record into the JSON
//! Lambda would deliver (the GetRecords record plus `eventSourceARN`).
//!
//! `GetRecords` is called over plain HTTP rather than through the SDK: DynamoDB Local writes an
//! empty map in stream records as `{}` instead of `{"M":{}}`, which the SDK cannot read, and we
//! want the records exactly as sent anyway. The repair of `{}` is the only change made.

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Every record of every shard of the table's latest stream, in shard order.
pub async fn read_all(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    endpoint: &str,
    table: &str,
) -> Vec<Box<RawValue>> {
    let description = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table");
    let arn = description
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("table has a stream")
        .to_owned();
    let stream = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe stream");
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for shard in stream
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = get_records(&http, endpoint, &current).await;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                // An open shard keeps returning iterators; an empty page means we have it all.
                break;
            }
            out.extend(records.into_iter().map(|mut record| {
                repair_empty_maps(&mut record["dynamodb"]);
                record["eventSourceARN"] = json!(arn);
                RawValue::from_string(record.to_string()).expect("valid JSON")
            }));
            iterator = page["NextShardIterator"].as_str().map(str::to_owned);
        }
    }
    out
}

async fn get_records(http: &reqwest::Client, endpoint: &str, iterator: &str) -> Value {
    let response = http
        .post(endpoint)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("X-Amz-Target", "DynamoDBStreams_20120810.GetRecords")
        // DynamoDB Local checks the credential's shape, not the signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261121/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(json!({ "ShardIterator": iterator }).to_string())
        .send()
        .await
        .expect("GetRecords");
    let status = response.status();
    let body = response.text().await.expect("GetRecords body");
    assert!(status.is_success(), "GetRecords: {status}: {body}");
    serde_json::from_str(&body).expect("GetRecords JSON")
}

/// `{}` where an attribute value belongs is an empty map.
fn repair_empty_maps(dynamodb: &mut Value) {
    for image in ["Keys", "NewImage", "OldImage"] {
        if let Some(Value::Object(item)) = dynamodb.get_mut(image) {
            item.values_mut().for_each(repair_value);
        }
    }
}

fn repair_value(value: &mut Value) {
    let Value::Object(typed) = value else { return };
    if typed.is_empty() {
        *value = json!({"M": {}});
        return;
    }
    if let Some(Value::Object(map)) = typed.get_mut("M") {
        map.values_mut().for_each(repair_value);
    }
    if let Some(Value::Array(list)) = typed.get_mut("L") {
        list.iter_mut().for_each(repair_value);
    }
}
