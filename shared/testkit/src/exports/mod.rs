//! DynamoDB point-in-time exports written into S3 (moto) in AWS's own layout, for testing
//! export-processor. moto's `ExportTableToPointInTime` writes one `data/<uuid>.gz` and no
//! manifests, so tests build export folders themselves from real DynamoDB Local scans
//! ([`crate::items::scan_all`]):
//!
//! ```text
//! PREFIX/AWSDynamoDB/<ExportId>/_started                     empty, written first
//! PREFIX/AWSDynamoDB/<ExportId>/data/<name>.json.gz          full export: one or more per partition
//! PREFIX/AWSDynamoDB/data/<name>.json.gz                     incremental export: a folder shared by exports
//! PREFIX/AWSDynamoDB/<ExportId>/manifest-files.json          JSON Lines, one per data file
//! PREFIX/AWSDynamoDB/<ExportId>/manifest-files.checksum
//! PREFIX/AWSDynamoDB/<ExportId>/manifest-summary.checksum
//! PREFIX/AWSDynamoDB/<ExportId>/manifest-summary.json        written last: the export is complete
//! ```
//!
//! Data files are gzip of DYNAMODB_JSON lines ([`item_to_dynamodb_json`]) or Ion text
//! ([`item_to_ion`]). Items go to data files by a hash of their partition key, so the same
//! spec and items always give the same objects. [`Fault`]s break one file or manifest entry
//! for negative tests; [`notify_summaries`] and [`receive_notifications`] give the S3 event
//! notifications that trigger the processor.

mod ion;
mod json;
mod notify;
mod objects;
mod write;

pub use ion::{item_to_ion, VERSION_MARKER};
pub use json::item_to_dynamodb_json;
pub use notify::{
    create_bucket, moto_s3, moto_sqs, notification_keys, notify_summaries, receive_notifications,
    NotificationQueue, NotifiedObject,
};
pub use objects::{gunzip, md5_base64, md5_hex};
pub use write::{write_full_export, write_incremental_export};

use crate::items::Item;

/// The file name that marks an export complete; S3 notifications for it start the processor.
pub const SUMMARY_FILE: &str = "manifest-summary.json";

/// The format of an export's data files (`ExportFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// DynamoDB JSON lines, `.json.gz`.
    DynamoDbJson,
    /// Amazon Ion text, `.ion.gz`.
    Ion,
}

impl Format {
    /// The summary's `outputFormat`.
    pub fn output_format(self) -> &'static str {
        match self {
            Format::DynamoDbJson => "DYNAMODB_JSON",
            Format::Ion => "ION",
        }
    }

    /// The data files' extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::DynamoDbJson => "json.gz",
            Format::Ion => "ion.gz",
        }
    }
}

/// An incremental export's `ExportViewType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Only `NewImage` (a delete is `Keys` alone).
    NewImage,
    /// `NewImage` and `OldImage` (a delete is `Keys` and `OldImage`).
    NewAndOldImages,
}

impl View {
    /// The summary's `outputView`.
    pub fn as_str(self) -> &'static str {
        match self {
            View::NewImage => "NEW_IMAGE",
            View::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }
}

/// Full or incremental export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The table at `export_time_ms`.
    Full,
    /// The changes from `from_ms` (inclusive) to `to_ms` (exclusive).
    Incremental {
        /// `exportFromTime`, ms since the epoch.
        from_ms: i64,
        /// `exportToTime`, ms since the epoch.
        to_ms: i64,
        /// Which images the lines carry.
        view: View,
    },
}

/// Something broken on purpose in one export, for negative tests. `partition` numbers the data
/// files that hold items (`0..ExportSpec::partitions`), not the empty ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The object holds only the first half of its gzip bytes. The manifest's md5 and etag are
    /// those of the truncated object, so only the gzip decoder can notice.
    TruncatedGzip {
        /// Which data file.
        partition: usize,
    },
    /// Line `line` (modulo the file's lines) is cut in half and ends with `]`, which no JSON or
    /// Ion reader accepts, whatever comes after it. itemCount still counts it.
    BadLine {
        /// Which data file.
        partition: usize,
        /// Which line (0-based).
        line: usize,
    },
    /// The manifest's `itemCount` for the file is off by `delta` (and so is the summary's).
    WrongItemCount {
        /// Which data file.
        partition: usize,
        /// Added to the true count.
        delta: i64,
    },
    /// The manifest's `md5` for the file is that of other bytes.
    WrongMd5 {
        /// Which data file.
        partition: usize,
    },
    /// The manifest lists the file but it is never written.
    MissingDataFile {
        /// Which data file.
        partition: usize,
    },
}

/// What export to write, and where. [`ExportSpec::new`] gives the defaults; change the public
/// fields for the rest.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    /// The S3 bucket (it must exist: [`create_bucket`]).
    pub bucket: String,
    /// `S3Prefix`, without a trailing `/`; empty for none (keys then start `AWSDynamoDB/`).
    pub prefix: String,
    /// The exported table's name (in the ARNs).
    pub table_name: String,
    /// The table's partition key attribute: items go to data files by a hash of its value.
    pub partition_key: String,
    /// DYNAMODB_JSON or ION.
    pub format: Format,
    /// Full or incremental.
    pub kind: Kind,
    /// How many data files share the items (at least 1). One may receive no item and so be an
    /// empty gzip file, as an empty partition of a real export is.
    pub partitions: usize,
    /// How many further data files are empty gzip files (an empty partition).
    pub empty_partitions: usize,
    /// How many further data files are zero-byte objects, which are not gzip at all (the
    /// processor must accept both forms of an empty file).
    pub zero_byte_partitions: usize,
    /// Gzip members per data file (at least 1): a reader that stops after the first member of a
    /// concatenated gzip file loses the rest.
    pub gzip_members: usize,
    /// Upload data files as one-part multipart uploads, as AWS does, so that their ETag is the
    /// multipart form `<hex>-1` and not the object's md5. Off: a single PutObject.
    pub multipart: bool,
    /// `exportTime` (full exports) and the basis of the export id, ms since the epoch.
    pub export_time_ms: i64,
    /// Seeds the export id, the data file names and the manifest order.
    pub seed: u64,
    /// The region in the ARNs.
    pub region: String,
    /// The account in the ARNs.
    pub account_id: String,
    /// What to break.
    pub faults: Vec<Fault>,
    /// The export's ARN, when an export API gave one (moto's export writes no manifests: a
    /// test writes them for the export it started); generated otherwise.
    pub export_arn: Option<String>,
}

impl ExportSpec {
    /// A full DYNAMODB_JSON export of `table_name` (partition key `partition_key`) to
    /// `s3://bucket/prefix/AWSDynamoDB/...`: three data files for the items, no extra empty
    /// ones, one gzip member each, multipart uploads, exported at 2026-11-21T16:23:12Z by account
    /// 123456789012 in us-east-1, nothing broken.
    pub fn new(bucket: &str, prefix: &str, table_name: &str, partition_key: &str) -> Self {
        ExportSpec {
            bucket: bucket.into(),
            prefix: prefix.trim_end_matches('/').into(),
            table_name: table_name.into(),
            partition_key: partition_key.into(),
            format: Format::DynamoDbJson,
            kind: Kind::Full,
            partitions: 3,
            empty_partitions: 0,
            zero_byte_partitions: 0,
            gzip_members: 1,
            multipart: true,
            export_time_ms: 1_795_278_192_000,
            seed: 0,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            faults: Vec::new(),
            export_arn: None,
        }
    }
}

/// One line of an incremental export: an item's keys, its image at the end of the window
/// (`None`: deleted) and at its start (`None`: created in the window), and when it was written.
#[derive(Debug, Clone)]
pub struct IncrementalChange {
    /// The item's key attributes.
    pub keys: Item,
    /// The item at the end of the window; `None` when it was deleted.
    pub new_image: Option<Item>,
    /// The item at the start of the window, if it existed (written only by `NEW_AND_OLD_IMAGES`).
    pub old_image: Option<Item>,
    /// `Metadata.WriteTimestampMicros`.
    pub write_time_micros: i64,
}

impl IncrementalChange {
    /// An item created or updated in the window (`old` is its image before, if it existed);
    /// `key_names` are the table's key attributes.
    pub fn upsert(
        key_names: &[&str],
        new: Item,
        old: Option<Item>,
        write_time_micros: i64,
    ) -> Self {
        IncrementalChange {
            keys: keys_of(&new, key_names),
            new_image: Some(new),
            old_image: old,
            write_time_micros,
        }
    }

    /// An item deleted in the window, `old` its image before.
    pub fn delete(key_names: &[&str], old: Item, write_time_micros: i64) -> Self {
        IncrementalChange {
            keys: keys_of(&old, key_names),
            new_image: None,
            old_image: Some(old),
            write_time_micros,
        }
    }
}

/// The attributes `names` of `item` (its key).
pub fn keys_of(item: &Item, names: &[&str]) -> Item {
    names
        .iter()
        .map(|name| {
            let value = item
                .get(*name)
                .unwrap_or_else(|| panic!("the item has no key attribute {name:?}: {item:?}"));
            ((*name).to_owned(), value.clone())
        })
        .collect()
}

/// What a data file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Items of partition `n` (possibly none: then an empty gzip file).
    Items(usize),
    /// An empty gzip file.
    EmptyGzip,
    /// A zero-byte object.
    ZeroByte,
}

/// One data file as written.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// Its S3 key (`dataFileS3Key`).
    pub key: String,
    /// What it holds.
    pub kind: FileKind,
    /// Its lines as written, each without its newline and the first without Ion's version
    /// marker; a [`Fault::BadLine`] is among them.
    pub lines: Vec<String>,
    /// The manifest's `itemCount`: `lines.len()` unless [`Fault::WrongItemCount`].
    pub manifest_item_count: i64,
    /// The manifest's `md5` (base64 of the MD5 of the stored bytes, unless [`Fault::WrongMd5`]).
    pub md5: String,
    /// The manifest's `etag`: what S3 answered for the upload, without quotes.
    pub etag: String,
    /// The object's bytes as stored (gzip, truncated by [`Fault::TruncatedGzip`]).
    pub bytes: Vec<u8>,
    /// False for [`Fault::MissingDataFile`].
    pub stored: bool,
    /// The index in `lines` of a [`Fault::BadLine`].
    pub bad_line: Option<usize>,
}

/// An export as written into S3.
#[derive(Debug, Clone)]
pub struct WrittenExport {
    /// The bucket.
    pub bucket: String,
    /// `01795278192000-1a2b3c4d`.
    pub export_id: String,
    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/export/ID`.
    pub export_arn: String,
    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE`.
    pub table_arn: String,
    /// `PREFIX/AWSDynamoDB/ID/_started`.
    pub started_key: String,
    /// `PREFIX/AWSDynamoDB/ID/manifest-files.json`.
    pub manifest_files_key: String,
    /// `PREFIX/AWSDynamoDB/ID/manifest-summary.json`.
    pub summary_key: String,
    /// The data files, in manifest order.
    pub data_files: Vec<DataFile>,
    /// Every key, in the order written: `_started`, data files, manifests, the summary last.
    pub keys_written: Vec<String>,
    /// The manifest-files.json text.
    pub manifest_files: String,
    /// The manifest-summary.json text.
    pub summary: String,
    /// The summary's `itemCount` (the sum of the manifest's).
    pub item_count: i64,
}
