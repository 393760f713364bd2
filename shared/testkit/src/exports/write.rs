//! Writing an export: data files, then manifests, the summary last.

use aws_sdk_dynamodb::types::AttributeValue;
use fastrand::Rng;

use super::objects::{
    file_name, fnv1a, gzip, iso_millis, md5_base64, md5_hex, put, put_multipart, uuid,
};
use super::{
    ion, json, DataFile, ExportSpec, Fault, FileKind, Format, IncrementalChange, Kind,
    WrittenExport, SUMMARY_FILE,
};
use crate::items::Item;

/// Writes a full export of `items` (rows of [`crate::items::scan_all`]) as `spec` says, and
/// returns what it wrote. Panics if `spec.kind` is not [`Kind::Full`] or an item lacks the
/// partition key.
pub async fn write_full_export(
    s3: &aws_sdk_s3::Client,
    spec: &ExportSpec,
    items: &[Item],
) -> WrittenExport {
    assert_eq!(spec.kind, Kind::Full, "write_full_export needs Kind::Full");
    let lines = partition(spec, items, |item| {
        let key = partition_key(spec, item);
        let line = match spec.format {
            Format::DynamoDbJson => json::full_line(item),
            Format::Ion => ion::full_line(item),
        };
        (key, line)
    });
    write(s3, spec, lines).await
}

/// Writes an incremental export of `changes` (one per item, as AWS compacts a window to each
/// item's last state) as `spec` says, and returns what it wrote. Panics if `spec.kind` is not
/// [`Kind::Incremental`] or a change's keys lack the partition key.
pub async fn write_incremental_export(
    s3: &aws_sdk_s3::Client,
    spec: &ExportSpec,
    changes: &[IncrementalChange],
) -> WrittenExport {
    let Kind::Incremental { view, .. } = spec.kind else {
        panic!("write_incremental_export needs Kind::Incremental");
    };
    let lines = partition(spec, changes, |change| {
        let key = partition_key(spec, &change.keys);
        let line = match spec.format {
            Format::DynamoDbJson => json::incremental_line(change, view),
            Format::Ion => ion::incremental_line(change, view),
        };
        (key, line)
    });
    write(s3, spec, lines).await
}

fn partition_key<'a>(spec: &ExportSpec, item: &'a Item) -> &'a AttributeValue {
    item.get(&spec.partition_key)
        .unwrap_or_else(|| panic!("no partition key {:?} in {item:?}", spec.partition_key))
}

/// Each record's line, in the data file its partition key hashes to.
fn partition<T>(
    spec: &ExportSpec,
    records: &[T],
    line: impl Fn(&T) -> (&AttributeValue, String),
) -> Vec<Vec<String>> {
    assert!(spec.partitions >= 1, "an export has at least one partition");
    let mut files = vec![Vec::new(); spec.partitions];
    for record in records {
        let (key, text) = line(record);
        let key_json = json::item_to_dynamodb_json(&[(String::new(), key.clone())].into());
        files[(fnv1a(key_json.as_bytes()) % spec.partitions as u64) as usize].push(text);
    }
    files
}

/// Where an export's objects go.
struct Layout {
    export_id: String,
    /// `PREFIX/AWSDynamoDB/<ExportId>`.
    export_dir: String,
    /// Full: under the export; incremental: `PREFIX/AWSDynamoDB/data`, shared by exports.
    data_dir: String,
}

impl Layout {
    fn new(spec: &ExportSpec, rng: &mut Rng) -> Layout {
        let base = if spec.prefix.is_empty() {
            "AWSDynamoDB".to_owned()
        } else {
            format!("{}/AWSDynamoDB", spec.prefix)
        };
        let generated = format!("{:014}-{:08x}", start_ms(spec), rng.u32(..));
        let export_id = match &spec.export_arn {
            // As DynamoDB does, the export's folder is named after the last part of its ARN.
            Some(arn) => arn.rsplit('/').next().unwrap_or(arn).to_owned(),
            None => generated,
        };
        let export_dir = format!("{base}/{export_id}");
        let data_dir = match spec.kind {
            Kind::Full => format!("{export_dir}/data"),
            Kind::Incremental { .. } => format!("{base}/data"),
        };
        Layout {
            export_id,
            export_dir,
            data_dir,
        }
    }
}

/// When the export job started: at the export time for a full export, after the window for an
/// incremental one.
fn start_ms(spec: &ExportSpec) -> i64 {
    match spec.kind {
        Kind::Full => spec.export_time_ms,
        Kind::Incremental { to_ms, .. } => to_ms + 60_000,
    }
}

/// A seed that differs between specs that differ, so that two exports in one test never share
/// an export id or file names unless they are the same export.
fn seed(spec: &ExportSpec) -> u64 {
    let identity = format!(
        "{}|{}|{}|{:?}|{:?}|{}",
        spec.bucket, spec.prefix, spec.table_name, spec.format, spec.kind, spec.export_time_ms
    );
    spec.seed ^ fnv1a(identity.as_bytes())
}

async fn write(
    s3: &aws_sdk_s3::Client,
    spec: &ExportSpec,
    lines: Vec<Vec<String>>,
) -> WrittenExport {
    for fault in &spec.faults {
        assert!(
            fault_partition(fault) < spec.partitions,
            "{fault:?} names a data file past the {} partitions",
            spec.partitions
        );
    }
    let mut rng = Rng::with_seed(seed(spec));
    let layout = Layout::new(spec, &mut rng);
    let table_arn = format!(
        "arn:aws:dynamodb:{}:{}:table/{}",
        spec.region, spec.account_id, spec.table_name
    );
    let export_arn = spec
        .export_arn
        .clone()
        .unwrap_or_else(|| format!("{table_arn}/export/{}", layout.export_id));
    let mut keys_written = Vec::new();

    let started_key = format!("{}/_started", layout.export_dir);
    put(s3, &spec.bucket, &started_key, b"").await;
    keys_written.push(started_key.clone());

    let mut kinds: Vec<(FileKind, Vec<String>)> = lines
        .into_iter()
        .enumerate()
        .map(|(n, lines)| (FileKind::Items(n), lines))
        .collect();
    kinds.extend((0..spec.empty_partitions).map(|_| (FileKind::EmptyGzip, Vec::new())));
    kinds.extend((0..spec.zero_byte_partitions).map(|_| (FileKind::ZeroByte, Vec::new())));
    // The manifest's order is not the partitions' (a reader must not rely on it).
    rng.shuffle(&mut kinds);

    let mut data_files = Vec::new();
    let mut billed_bytes = 0usize;
    for (kind, lines) in kinds {
        let key = format!(
            "{}/{}.{}",
            layout.data_dir,
            file_name(&mut rng),
            spec.format.extension()
        );
        let file = data_file(s3, spec, key, kind, lines).await;
        billed_bytes += file.lines.iter().map(|l| l.len() + 1).sum::<usize>();
        if file.stored {
            keys_written.push(file.key.clone());
        }
        data_files.push(file);
    }

    let manifest_files: String = data_files
        .iter()
        .map(|f| {
            format!(
                "{{\"itemCount\":{},\"md5\":{},\"etag\":{},\"dataFileS3Key\":{}}}\n",
                f.manifest_item_count,
                quoted(&f.md5),
                quoted(&f.etag),
                quoted(&f.key)
            )
        })
        .collect();
    let manifest_files_key = format!("{}/manifest-files.json", layout.export_dir);
    let item_count: i64 = data_files.iter().map(|f| f.manifest_item_count).sum();
    let summary = summary(
        spec,
        &export_arn,
        &table_arn,
        &mut rng,
        &manifest_files_key,
        billed_bytes,
        item_count,
    );
    let summary_key = format!("{}/{SUMMARY_FILE}", layout.export_dir);

    // The checksum files' content is not documented by AWS; the MD5 in hex is what they hold
    // as far as anyone has shown. The processor should not depend on them.
    for (key, bytes) in [
        (
            manifest_files_key.clone(),
            manifest_files.clone().into_bytes(),
        ),
        (
            format!("{}/manifest-files.checksum", layout.export_dir),
            md5_hex(manifest_files.as_bytes()).into_bytes(),
        ),
        (
            format!("{}/manifest-summary.checksum", layout.export_dir),
            md5_hex(summary.as_bytes()).into_bytes(),
        ),
        // Last: its notification starts the processor, which must find everything else there.
        (summary_key.clone(), summary.clone().into_bytes()),
    ] {
        put(s3, &spec.bucket, &key, &bytes).await;
        keys_written.push(key);
    }

    WrittenExport {
        bucket: spec.bucket.clone(),
        export_id: layout.export_id,
        export_arn,
        table_arn,
        started_key,
        manifest_files_key,
        summary_key,
        data_files,
        keys_written,
        manifest_files,
        summary,
        item_count,
    }
}

/// Builds one data file, breaks it as the spec's faults say, and uploads it.
async fn data_file(
    s3: &aws_sdk_s3::Client,
    spec: &ExportSpec,
    key: String,
    kind: FileKind,
    mut lines: Vec<String>,
) -> DataFile {
    let faults: Vec<Fault> = match kind {
        FileKind::Items(n) => spec
            .faults
            .iter()
            .copied()
            .filter(|fault| fault_partition(fault) == n)
            .collect(),
        _ => Vec::new(),
    };
    let mut bad_line = None;
    for fault in &faults {
        if let Fault::BadLine { partition, line } = fault {
            assert!(
                !lines.is_empty(),
                "Fault::BadLine: partition {partition} holds no items (use more items or fewer partitions)"
            );
            let at = line % lines.len();
            let cut = (0..=lines[at].len() / 2)
                .rev()
                .find(|i| lines[at].is_char_boundary(*i))
                .unwrap_or(0);
            lines[at] = format!("{}]", &lines[at][..cut]);
            bad_line = Some(at);
        }
    }
    let mut bytes = if kind == FileKind::ZeroByte {
        Vec::new()
    } else {
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 && spec.format == Format::Ion {
                text.push_str(ion::VERSION_MARKER);
                text.push(' ');
            }
            text.push_str(line);
            text.push('\n');
        }
        gzip(text.as_bytes(), spec.gzip_members)
    };
    let mut md5 = None;
    let mut manifest_item_count = lines.len() as i64;
    let mut stored = true;
    for fault in &faults {
        match fault {
            Fault::TruncatedGzip { .. } => bytes.truncate(bytes.len() / 2),
            Fault::WrongItemCount { delta, .. } => manifest_item_count += delta,
            Fault::WrongMd5 { .. } => md5 = Some(md5_base64(&[&bytes[..], b"other"].concat())),
            Fault::MissingDataFile { .. } => stored = false,
            Fault::BadLine { .. } => {}
        }
    }
    let etag = if !stored {
        md5_hex(&bytes)
    } else if spec.multipart && kind != FileKind::ZeroByte {
        put_multipart(s3, &spec.bucket, &key, &bytes).await
    } else {
        put(s3, &spec.bucket, &key, &bytes).await
    };
    DataFile {
        md5: md5.unwrap_or_else(|| md5_base64(&bytes)),
        key,
        kind,
        lines,
        manifest_item_count,
        etag,
        bytes,
        stored,
        bad_line,
    }
}

fn fault_partition(fault: &Fault) -> usize {
    match *fault {
        Fault::TruncatedGzip { partition }
        | Fault::BadLine { partition, .. }
        | Fault::WrongItemCount { partition, .. }
        | Fault::WrongMd5 { partition }
        | Fault::MissingDataFile { partition } => partition,
    }
}

/// manifest-summary.json, one line, members in AWS's order.
fn summary(
    spec: &ExportSpec,
    export_arn: &str,
    table_arn: &str,
    rng: &mut Rng,
    manifest_files_key: &str,
    billed_bytes: usize,
    item_count: i64,
) -> String {
    let start = start_ms(spec);
    let time = |ms: i64| quoted(&iso_millis(ms));
    let mut members: Vec<(&str, String)> = vec![
        (
            "version",
            quoted(match spec.kind {
                Kind::Full => "2020-06-30",
                Kind::Incremental { .. } => "2023-08-01",
            }),
        ),
        ("exportArn", quoted(export_arn)),
        ("startTime", time(start)),
        ("endTime", time(start + 300_000)),
        ("tableArn", quoted(table_arn)),
        ("tableId", quoted(&uuid(rng))),
    ];
    match spec.kind {
        Kind::Full => members.push(("exportTime", time(spec.export_time_ms))),
        Kind::Incremental { from_ms, to_ms, .. } => {
            members.push(("exportFromTime", time(from_ms)));
            members.push(("exportToTime", time(to_ms)));
        }
    }
    let prefix = if spec.prefix.is_empty() {
        "null".to_owned()
    } else {
        quoted(&spec.prefix)
    };
    members.extend([
        ("s3Bucket", quoted(&spec.bucket)),
        ("s3Prefix", prefix),
        ("s3SseAlgorithm", quoted("AES256")),
        ("s3SseKmsKeyId", "null".to_owned()),
        ("manifestFilesS3Key", quoted(manifest_files_key)),
        ("billedSizeBytes", billed_bytes.to_string()),
        ("itemCount", item_count.to_string()),
        ("outputFormat", quoted(spec.format.output_format())),
    ]);
    if let Kind::Incremental { view, .. } = spec.kind {
        members.push(("outputView", quoted(view.as_str())));
        members.push(("exportType", quoted("INCREMENTAL_EXPORT")));
    }
    let body: Vec<String> = members
        .into_iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}
