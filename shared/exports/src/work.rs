//! A unit of work on the work queue: one data file of one export, from a given line on, or an
//! export's manifest to read. The manifest step sends one file per data file; a file stopped by
//! the deadline sends itself again, from the line it reached; export-trigger sends a manifest
//! whose S3 notification did not arrive, and files an audit found not loaded.

use cdc_record::KeySchema;
use serde::{Deserialize, Serialize};

use crate::manifest::{DataFile, Format, Kind, Summary};

/// One data file to load, with everything needed to map its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWork {
    /// The export bucket.
    pub bucket: String,
    /// The data object's key.
    pub key: String,
    /// The ARN of the export the file belongs to.
    pub export_arn: String,
    /// The exported table.
    pub table_name: String,
    /// The table's partition key attribute.
    pub partition_key: String,
    /// The table's sort key attribute, `None` for a table without one.
    pub sort_key: Option<String>,
    /// The file's format.
    pub format: Format,
    /// Full or incremental export, with its time or window.
    pub kind: Kind,
    /// Items the manifest says the file holds.
    pub item_count: u64,
    /// Base64 MD5 of the object's bytes, from the manifest.
    pub md5: Option<String>,
    /// Lines already loaded: the file is loaded from the next one on.
    #[serde(default)]
    pub start_line: u64,
}

/// A work-queue message: one field naming its kind, so that it cannot be mistaken for an S3
/// notification (`{"cdc_export_file": {...}}`, `{"cdc_export_manifest": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Work {
    /// Load one data file.
    #[serde(rename = "cdc_export_file")]
    File(FileWork),
    /// Read an export's manifests and load its data files.
    #[serde(rename = "cdc_export_manifest")]
    Manifest(ManifestWork),
}

/// An export's `manifest-summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestWork {
    /// The export bucket.
    pub bucket: String,
    /// The key of `manifest-summary.json`.
    pub key: String,
}

impl Work {
    /// The message body.
    pub fn to_message(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("work always serialises: {e}"))
    }

    /// The work in a message body, if it is work (`None`: some other message).
    pub fn from_message(body: &str) -> Option<Result<Work, serde_json::Error>> {
        if !body.trim_start().starts_with("{\"cdc_export_") {
            return None;
        }
        Some(serde_json::from_str(body))
    }
}

impl FileWork {
    /// The work for `file` of the export `summary` describes, from its first line.
    pub fn new(bucket: &str, summary: &Summary, schema: &KeySchema, file: &DataFile) -> Self {
        FileWork {
            bucket: bucket.to_owned(),
            key: file.key.clone(),
            export_arn: summary.export_arn.clone(),
            table_name: summary.table_name.clone(),
            partition_key: schema.partition_key.clone(),
            sort_key: schema.sort_key.clone(),
            format: summary.format,
            kind: summary.kind,
            item_count: file.item_count,
            md5: file.md5.clone(),
            start_line: 0,
        }
    }

    /// The table's key schema, for mapping the file's items.
    pub fn key_schema(&self) -> KeySchema {
        KeySchema {
            partition_key: self.partition_key.clone(),
            sort_key: self.sort_key.clone(),
        }
    }

    /// `s3://BUCKET/KEY`, naming the file in logs, errors and dead letters.
    pub fn object(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The same file, from `line` on.
    pub fn continued_from(&self, line: u64) -> FileWork {
        FileWork {
            start_line: line,
            ..self.clone()
        }
    }

    /// The work queue message body.
    pub fn to_message(&self) -> String {
        Work::File(self.clone()).to_message()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work() -> FileWork {
        FileWork {
            bucket: "b".into(),
            key: "p/AWSDynamoDB/x/data/a.json.gz".into(),
            export_arn: "arn:aws:dynamodb:us-east-1:1:table/t/export/x".into(),
            table_name: "t".into(),
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            format: Format::Ion,
            kind: Kind::Incremental {
                from_ms: 1,
                to_ms: 2,
            },
            item_count: 8,
            md5: Some("sQMSpEILNgoQmarvDFonGQ==".into()),
            start_line: 0,
        }
    }

    #[test]
    fn round_trips_through_a_message_and_is_told_from_other_messages() {
        let continued = work().continued_from(42);
        let body = continued.to_message();
        assert!(body.starts_with("{\"cdc_export_file\":{"), "{body}");
        assert_eq!(
            Work::from_message(&body).unwrap().unwrap(),
            Work::File(continued)
        );
        let manifest = Work::Manifest(ManifestWork {
            bucket: "b".into(),
            key: "p/AWSDynamoDB/x/manifest-summary.json".into(),
        });
        let body = manifest.to_message();
        assert!(body.starts_with("{\"cdc_export_manifest\":{"), "{body}");
        assert_eq!(Work::from_message(&body).unwrap().unwrap(), manifest);
        assert!(Work::from_message("{\"Records\":[]}").is_none());
        assert!(Work::from_message("{\"cdc_export_file\":{}}")
            .unwrap()
            .is_err());
    }
}
