//! The two manifests DynamoDB writes for every export: `manifest-summary.json` (written last:
//! its notification means the export is complete) and `manifest-files.json` (one line per data
//! file, with its item count and MD5).

use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use serde::{Deserialize, Serialize};

/// The data files' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// `DYNAMODB_JSON`: one JSON object per line in DynamoDB's typed JSON (`{"Item": {...}}`
    /// for a full export).
    #[serde(rename = "DYNAMODB_JSON")]
    DynamoDbJson,
    /// `ION`: Amazon Ion text, one value per line holding the same fields.
    #[serde(rename = "ION")]
    Ion,
}

/// A full export (every item at the export time) or an incremental one (every item changed in
/// the window, as of its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A full export: the table as it was at one instant.
    Full {
        /// The instant the export shows the table at, in ms since the epoch.
        export_time_ms: i64,
    },
    /// An incremental export: the items changed in a time window.
    Incremental {
        /// The window's start, in ms since the epoch.
        from_ms: i64,
        /// The window's end, in ms since the epoch; items are exported as of this instant.
        to_ms: i64,
    },
}

impl Kind {
    /// From when the stream's deletes must be remembered for this export to load safely: the
    /// export time, or the window's start (every line was written after it).
    pub fn deletes_matter_from_ms(self) -> i64 {
        match self {
            Kind::Full { export_time_ms } => export_time_ms,
            Kind::Incremental { from_ms, .. } => from_ms,
        }
    }

    /// As the record crate's mapping takes it.
    pub fn to_record(self) -> cdc_record::ExportKind {
        match self {
            Kind::Full { export_time_ms } => cdc_record::ExportKind::Full { export_time_ms },
            Kind::Incremental { from_ms, to_ms } => {
                cdc_record::ExportKind::Incremental { from_ms, to_ms }
            }
        }
    }
}

/// What the processor needs of `manifest-summary.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The export's ARN (`exportArn`).
    pub export_arn: String,
    /// The exported table's name, taken from `tableArn`.
    pub table_name: String,
    /// Full or incremental, with its time or window.
    pub kind: Kind,
    /// The format of the data files (`outputFormat`).
    pub format: Format,
    /// The key of `manifest-files.json`, in the same bucket.
    pub files_key: String,
    /// Items in the whole export, when the summary says.
    pub item_count: Option<u64>,
}

/// One line of `manifest-files.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFile {
    /// The data object's key in the export bucket (`dataFileS3Key`).
    #[serde(rename = "dataFileS3Key")]
    pub key: String,
    /// Items the file holds, one per line (`itemCount`).
    pub item_count: u64,
    /// Base64 MD5 of the object's bytes.
    #[serde(default)]
    pub md5: Option<String>,
}

/// A manifest that cannot be used, named by its key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ManifestError {
    /// The manifest's key (an `s3://` URL when it could not be read).
    pub key: String,
    /// Why it cannot be used: unreadable, not JSON of the expected shape, a missing or bad field.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSummary {
    export_arn: String,
    table_arn: String,
    #[serde(default)]
    export_time: Option<String>,
    #[serde(default)]
    export_type: Option<String>,
    #[serde(default)]
    export_from_time: Option<String>,
    #[serde(default)]
    export_to_time: Option<String>,
    output_format: Format,
    manifest_files_s3_key: String,
    #[serde(default)]
    item_count: Option<u64>,
}

impl Summary {
    /// Parses `manifest-summary.json` found at `key`.
    pub fn parse(key: &str, text: &[u8]) -> Result<Summary, ManifestError> {
        let fail = |reason: String| ManifestError {
            key: key.to_owned(),
            reason,
        };
        let raw: RawSummary = serde_json::from_slice(text)
            .map_err(|e| fail(format!("not a manifest summary: {e}")))?;
        let time = |field: &str, value: &Option<String>| -> Result<i64, ManifestError> {
            let value = value
                .as_deref()
                .ok_or_else(|| fail(format!("{field} is missing")))?;
            epoch_ms(value)
                .ok_or_else(|| fail(format!("{field} {value:?} is not an ISO 8601 time")))
        };
        let kind = match raw.export_type.as_deref() {
            None | Some("FULL_EXPORT") => Kind::Full {
                export_time_ms: time("exportTime", &raw.export_time)?,
            },
            Some("INCREMENTAL_EXPORT") => Kind::Incremental {
                from_ms: time("exportFromTime", &raw.export_from_time)?,
                to_ms: time("exportToTime", &raw.export_to_time)?,
            },
            Some(other) => {
                return Err(fail(format!(
                    "exportType {other:?} is not FULL_EXPORT or INCREMENTAL_EXPORT"
                )))
            }
        };
        let table_name = raw
            .table_arn
            .split_once(":table/")
            .map(|(_, name)| name.to_owned())
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .ok_or_else(|| fail(format!("tableArn {:?} names no table", raw.table_arn)))?;
        Ok(Summary {
            export_arn: raw.export_arn,
            table_name,
            kind,
            format: raw.output_format,
            files_key: raw.manifest_files_s3_key,
            item_count: raw.item_count,
        })
    }
}

/// Reads an export's `manifest-summary.json` at `summary_key` and the `manifest-files.json` it
/// names, from `bucket`, by `stop_at`.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    summary_key: &str,
    stop_at: tokio::time::Instant,
) -> Result<(Summary, Vec<DataFile>), ManifestError> {
    let summary = Summary::parse(
        summary_key,
        &object(s3, bucket, summary_key, stop_at).await?,
    )?;
    let files = parse_files(
        &summary.files_key,
        &object(s3, bucket, &summary.files_key, stop_at).await?,
    )?;
    Ok((summary, files))
}

/// A whole (small) object.
async fn object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    stop_at: tokio::time::Instant,
) -> Result<Vec<u8>, ManifestError> {
    let fail = |reason: String| ManifestError {
        key: format!("s3://{bucket}/{key}"),
        reason: format!("cannot be read: {reason}"),
    };
    use cdc_lambda::deadline::bounded;
    let object = bounded(stop_at, s3.get_object().bucket(bucket).key(key).send())
        .await
        .map_err(fail)?;
    let bytes = bounded(stop_at, object.body.collect())
        .await
        .map_err(fail)?;
    Ok(bytes.to_vec())
}

/// Parses `manifest-files.json` (JSON Lines) found at `key`.
pub fn parse_files(key: &str, text: &[u8]) -> Result<Vec<DataFile>, ManifestError> {
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| ManifestError {
                key: key.to_owned(),
                reason: format!("line {}: not a data file entry: {e}", i + 1),
            })
        })
        .collect()
}

fn epoch_ms(text: &str) -> Option<i64> {
    let time = DateTime::from_str(text, DateFormat::DateTime).ok()?;
    time.to_millis().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"version":"2020-06-30","exportArn":"arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog/export/01234567890123-a1b2c3d4","startTime":"2020-11-04T07:28:34.028Z","endTime":"2020-11-04T07:33:43.897Z","tableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog","tableId":"12345a12-abcd-123a-ab12-1234abc12345","exportTime":"2020-11-04T07:28:34.028Z","s3Bucket":"ddb-productcatalog-export","s3Prefix":"2020-Nov","s3SseAlgorithm":"AES256","s3SseKmsKeyId":null,"manifestFilesS3Key":"2020-Nov/AWSDynamoDB/01234567890123-a1b2c3d4/manifest-files.json","billedSizeBytes":0,"itemCount":8,"outputFormat":"DYNAMODB_JSON"}"#;

    #[test]
    fn reads_a_full_export_summary_as_aws_documents_it() {
        let summary = Summary::parse("k", FULL.as_bytes()).unwrap();
        assert_eq!(summary.table_name, "ProductCatalog");
        assert_eq!(
            summary.kind,
            Kind::Full {
                export_time_ms: 1_604_474_914_028
            }
        );
        assert_eq!(summary.format, Format::DynamoDbJson);
        assert_eq!(
            summary.files_key,
            "2020-Nov/AWSDynamoDB/01234567890123-a1b2c3d4/manifest-files.json"
        );
        assert_eq!(summary.item_count, Some(8));
    }

    #[test]
    fn reads_an_incremental_export_summary() {
        let text = FULL
            .replace("\"outputFormat\":\"DYNAMODB_JSON\"", "\"outputFormat\":\"ION\",\"exportType\":\"INCREMENTAL_EXPORT\",\"exportFromTime\":\"2020-11-04T06:00:00Z\",\"exportToTime\":\"2020-11-04T07:00:00Z\"");
        let summary = Summary::parse("k", text.as_bytes()).unwrap();
        assert_eq!(summary.format, Format::Ion);
        assert_eq!(
            summary.kind,
            Kind::Incremental {
                from_ms: 1_604_469_600_000,
                to_ms: 1_604_473_200_000
            }
        );
    }

    #[test]
    fn bad_summaries_name_the_key_and_the_field() {
        let cases = [
            ("{}", "k: not a manifest summary: missing field `exportArn`"),
            (
                &FULL.replace("\"exportTime\":\"2020-11-04T07:28:34.028Z\",", "") as &str,
                "k: exportTime is missing",
            ),
            (
                &FULL.replace(
                    "2020-11-04T07:28:34.028Z\",\"s3Bucket",
                    "yesterday\",\"s3Bucket",
                ),
                "k: exportTime \"yesterday\" is not an ISO 8601 time",
            ),
            (
                &FULL.replace("DYNAMODB_JSON", "CSV"),
                "k: not a manifest summary: unknown variant `CSV`",
            ),
        ];
        for (text, message) in cases {
            let err = Summary::parse("k", text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }

    #[test]
    fn reads_manifest_files_lines_and_names_a_bad_one() {
        let text = "{\"itemCount\":8,\"md5\":\"sQMSpEILNgoQmarvDFonGQ==\",\"etag\":\"af83\",\"dataFileS3Key\":\"p/AWSDynamoDB/x/data/a.json.gz\"}\n\n{\"itemCount\":0,\"md5\":\"1B2M2Y8AsgTpgAmY7PhCfg==\",\"etag\":\"d41d\",\"dataFileS3Key\":\"p/AWSDynamoDB/x/data/b.json.gz\"}\n";
        let files = parse_files("m", text.as_bytes()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].key, "p/AWSDynamoDB/x/data/a.json.gz");
        assert_eq!(files[0].item_count, 8);
        assert_eq!(files[1].md5.as_deref(), Some("1B2M2Y8AsgTpgAmY7PhCfg=="));
        let err = parse_files("m", b"{\"itemCount\":1}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m: line 1: not a data file entry: missing field `dataFileS3Key`"),
            "{err}"
        );
    }
}
