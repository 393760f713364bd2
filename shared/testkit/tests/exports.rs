//! The export fixtures hold what they claim, checked by reading them back independently: items
//! generated and put into DynamoDB Local, scanned, written as full exports in both formats and
//! as incremental exports into moto's S3; then every object read back, gunzipped, parsed (Ion
//! with ion-rs, not our writer's logic), and compared with the scan; manifests checked against
//! the objects; summaries written last and announced on the SQS queue.
//!
//! Run with the emulators: `scripts/emulators.sh cargo test -p cdc-testkit --features exports`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cdc_testkit::exports::{
    self, create_bucket, gunzip, md5_base64, moto_s3, moto_sqs, notification_keys,
    notify_summaries, receive_notifications, write_full_export, write_incremental_export,
    ExportSpec, Fault, FileKind, Format, IncrementalChange, Kind, View, WrittenExport,
};
use cdc_testkit::generate::{self, KeyAttribute, TableShape};
use cdc_testkit::items::{canonical_item, scan_all, CanonicalItem, Item};
use cdc_testkit::{dynamodb_local, unique};
use ion_rs::{Element, Value};
use serde_json::Value as Json;

const SEED: u64 = 0xE4_9047;

/// What a data line holds, parsed back.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Full(Item),
    Incremental {
        micros: i64,
        keys: Item,
        new: Option<Item>,
        old: Option<Item>,
    },
}

// ---------------------------------------------------------------------------------------------
// Independent readers of the two formats.

fn json_item(value: &Json) -> Item {
    value
        .as_object()
        .expect("an item object")
        .iter()
        .map(|(k, v)| (k.clone(), json_value(v)))
        .collect()
}

fn json_value(value: &Json) -> AttributeValue {
    let object = value.as_object().expect("a typed value");
    assert_eq!(object.len(), 1, "one type tag: {value}");
    let (tag, inner) = object.iter().next().expect("one member");
    let text = |v: &Json| v.as_str().expect("a string").to_owned();
    let blob = |v: &Json| Blob::new(STANDARD.decode(text(v)).expect("base64"));
    let array = |v: &Json| v.as_array().expect("an array").clone();
    match tag.as_str() {
        "S" => AttributeValue::S(text(inner)),
        "N" => AttributeValue::N(text(inner)),
        "B" => AttributeValue::B(blob(inner)),
        "BOOL" => AttributeValue::Bool(inner.as_bool().expect("a bool")),
        "NULL" => AttributeValue::Null(inner.as_bool().expect("true")),
        "SS" => AttributeValue::Ss(array(inner).iter().map(text).collect()),
        "NS" => AttributeValue::Ns(array(inner).iter().map(text).collect()),
        "BS" => AttributeValue::Bs(array(inner).iter().map(blob).collect()),
        "M" => AttributeValue::M(json_item(inner)),
        "L" => AttributeValue::L(array(inner).iter().map(json_value).collect()),
        other => panic!("unknown type tag {other}"),
    }
}

fn json_line(line: &str) -> Line {
    let value: Json = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    if let Some(item) = value.get("Item") {
        assert_eq!(value.as_object().unwrap().len(), 1, "{line}");
        return Line::Full(json_item(item));
    }
    let micros = value["Metadata"]["WriteTimestampMicros"]["N"]
        .as_str()
        .expect("WriteTimestampMicros")
        .parse()
        .expect("an integer");
    Line::Incremental {
        micros,
        keys: json_item(&value["Keys"]),
        new: value.get("NewImage").map(json_item),
        old: value.get("OldImage").map(json_item),
    }
}

fn ion_struct(element: &Element) -> Item {
    element
        .as_struct()
        .unwrap_or_else(|| panic!("a struct: {element}"))
        .fields()
        .map(|(name, value)| {
            (
                name.text().expect("field name text").to_owned(),
                ion_value(value),
            )
        })
        .collect()
}

fn ion_value(element: &Element) -> AttributeValue {
    let annotation = element.annotations().first().map(str::to_owned);
    let members = || element.as_sequence().expect("a list").iter();
    match (annotation.as_deref(), element.value()) {
        (Some("$dynamodb_SS"), Value::List(_)) => AttributeValue::Ss(
            members()
                .map(|m| m.as_string().expect("a string").to_owned())
                .collect(),
        ),
        (Some("$dynamodb_NS"), Value::List(_)) => {
            AttributeValue::Ns(members().map(ion_number).collect())
        }
        (Some("$dynamodb_BS"), Value::List(_)) => AttributeValue::Bs(
            members()
                .map(|m| Blob::new(m.as_blob().expect("a blob")))
                .collect(),
        ),
        (Some(other), _) => panic!("unexpected annotation {other}: {element}"),
        (None, Value::String(s)) => AttributeValue::S(s.text().to_owned()),
        (None, Value::Decimal(_)) => AttributeValue::N(ion_number(element)),
        (None, Value::Blob(b)) => AttributeValue::B(Blob::new(b.as_ref())),
        (None, Value::Bool(b)) => AttributeValue::Bool(*b),
        (None, Value::Null(ion_rs::IonType::Null)) => AttributeValue::Null(true),
        (None, Value::Struct(_)) => AttributeValue::M(ion_struct(element)),
        (None, Value::List(_)) => AttributeValue::L(members().map(ion_value).collect()),
        (None, other) => panic!("not a DynamoDB value: {other:?}"),
    }
}

/// An Ion decimal as canonical number text (see [`canonical_number`]).
fn ion_number(element: &Element) -> String {
    let decimal = element
        .as_decimal()
        .unwrap_or_else(|| panic!("a decimal: {element}"));
    let coefficient = decimal.coefficient();
    canonical_number(
        coefficient.is_negative(),
        &coefficient.magnitude().to_string(),
        decimal.exponent(),
    )
}

fn ion_line(element: &Element) -> Line {
    let line = element.as_struct().expect("a line struct");
    if let Some(item) = line.get("Item") {
        return Line::Full(ion_struct(item));
    }
    let metadata = line.get("Metadata").expect("Metadata");
    let micros = metadata
        .as_struct()
        .and_then(|m| m.get("WriteTimestampMicros"))
        .and_then(|t| t.as_int())
        .and_then(|i| i.as_i64())
        .expect("WriteTimestampMicros, an int");
    Line::Incremental {
        micros,
        keys: ion_struct(line.get("Keys").expect("Keys")),
        new: line.get("NewImage").map(ion_struct),
        old: line.get("OldImage").map(ion_struct),
    }
}

/// `±digits × 10^exponent` as `[-]D[.DDD]E±X` with no trailing zeros, `0` for any zero: one
/// text per value, so that Ion's spellings and DynamoDB's compare.
fn canonical_number(negative: bool, digits: &str, exponent: i64) -> String {
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return "0".into();
    }
    let exponent = exponent + (trimmed.len() - significant.len()) as i64;
    // Exponent of the first digit.
    let adjusted = exponent + significant.len() as i64 - 1;
    format!(
        "{}{}{}{}E{adjusted}",
        if negative { "-" } else { "" },
        &significant[..1],
        if significant.len() > 1 { "." } else { "" },
        &significant[1..]
    )
}

fn canonical_text(text: &str) -> String {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    canonical_number(
        negative,
        &format!("{whole}{fraction}"),
        exponent - fraction.len() as i64,
    )
}

/// Every number in `item` in canonical text.
fn numbers_canonical(item: &Item) -> Item {
    fn value(v: &AttributeValue) -> AttributeValue {
        match v {
            AttributeValue::N(n) => AttributeValue::N(canonical_text(n)),
            AttributeValue::Ns(ns) => {
                AttributeValue::Ns(ns.iter().map(|n| canonical_text(n)).collect())
            }
            AttributeValue::M(m) => AttributeValue::M(numbers_canonical(m)),
            AttributeValue::L(l) => AttributeValue::L(l.iter().map(value).collect()),
            other => other.clone(),
        }
    }
    item.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

fn sorted(items: impl IntoIterator<Item = Item>) -> Vec<CanonicalItem> {
    let mut out: Vec<CanonicalItem> = items
        .into_iter()
        .map(|i| canonical_item(&numbers_canonical(&i)))
        .collect();
    out.sort();
    out
}

/// The lines of a data file's text, checking Ion's version marker.
fn parse_file(format: Format, text: &str) -> Vec<Line> {
    match format {
        Format::DynamoDbJson => text.lines().map(json_line).collect(),
        Format::Ion => {
            if !text.is_empty() {
                assert!(text.starts_with("$ion_1_0 "), "{text:.40}");
            }
            // One value per line: parse each line alone as the processor may.
            let per_line: Vec<Line> = text
                .lines()
                .map(|line| {
                    let line = line.strip_prefix("$ion_1_0 ").unwrap_or(line);
                    ion_line(&Element::read_one(line).unwrap_or_else(|e| panic!("{e}: {line}")))
                })
                .collect();
            // And the whole file as one Ion stream.
            let whole: Vec<Line> = Element::read_all(text)
                .expect("an Ion stream")
                .iter()
                .map(ion_line)
                .collect();
            assert_eq!(per_line, whole);
            whole
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the objects back.

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
        .body
        .collect()
        .await
        .expect("object body")
        .into_bytes()
        .to_vec()
}

/// Checks every object of `written` against its manifests; returns every data line.
async fn verify(s3: &aws_sdk_s3::Client, written: &WrittenExport, format: Format) -> Vec<Line> {
    let bucket = &written.bucket;
    assert_eq!(written.keys_written.last(), Some(&written.summary_key));
    assert_eq!(written.keys_written.first(), Some(&written.started_key));
    assert!(get(s3, bucket, &written.started_key).await.is_empty());

    let summary = String::from_utf8(get(s3, bucket, &written.summary_key).await).unwrap();
    assert_eq!(summary, written.summary);
    let summary: Json = serde_json::from_str(&summary).expect("a JSON summary");
    assert_eq!(
        summary["manifestFilesS3Key"],
        written.manifest_files_key.as_str()
    );
    assert_eq!(summary["exportArn"], written.export_arn.as_str());
    assert_eq!(summary["outputFormat"], format.output_format());
    assert!(written
        .export_arn
        .ends_with(&format!("/export/{}", written.export_id)));
    let id = &written.export_id;
    assert!(
        id.len() == 23 && id.as_bytes()[14] == b'-' && id[..14].bytes().all(|b| b.is_ascii_digit()),
        "an export id like AWS's: {id}"
    );

    let manifest = String::from_utf8(get(s3, bucket, &written.manifest_files_key).await).unwrap();
    assert_eq!(manifest, written.manifest_files);
    let mut lines = Vec::new();
    let mut total = 0;
    for entry in manifest.lines() {
        let entry: Json = serde_json::from_str(entry).expect("a manifest line");
        let key = entry["dataFileS3Key"].as_str().expect("dataFileS3Key");
        let item_count = entry["itemCount"].as_i64().expect("itemCount");
        total += item_count;
        assert!(key.ends_with(&format!(".{}", format.extension())), "{key}");
        let bytes = get(s3, bucket, key).await;
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str(), "md5 of {key}");
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            entry["etag"],
            head.e_tag().unwrap().trim_matches('"'),
            "etag of {key}"
        );
        let text = if bytes.is_empty() {
            String::new()
        } else {
            gunzip(&bytes).unwrap_or_else(|e| panic!("gunzip {key}: {e}"))
        };
        let file = parse_file(format, &text);
        assert_eq!(file.len() as i64, item_count, "lines of {key}");
        lines.extend(file);
    }
    assert_eq!(summary["itemCount"].as_i64(), Some(total));
    assert_eq!(written.item_count, total);
    lines
}

fn shapes() -> Vec<TableShape> {
    let key = |name, kind| KeyAttribute { name, kind };
    vec![
        TableShape {
            partition_key: key("pk", 'S'),
            sort_key: Some(key("sk", 'N')),
        },
        TableShape {
            partition_key: key("id", 'B'),
            sort_key: None,
        },
        TableShape {
            partition_key: key("pk", 'N'),
            sort_key: Some(key("sk", 'B')),
        },
    ]
}

fn key_names(shape: &TableShape) -> Vec<&'static str> {
    std::iter::once(shape.partition_key.name)
        .chain(shape.sort_key.map(|k| k.name))
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// The Ion writer's text is Ion holding exactly the item, for every generated item (no
/// emulator needed).
#[test]
fn ion_text_reads_back_as_the_item_with_ion_rs() {
    for shape in shapes() {
        for item in generate::items(&shape, SEED, 80) {
            let text = exports::item_to_ion(&item);
            let parsed =
                ion_struct(&Element::read_one(&text).unwrap_or_else(|e| panic!("{e}: {text}")));
            assert_eq!(sorted([parsed]), sorted([item]), "{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_of_a_scanned_table_read_back_and_announce_their_summaries() {
    let dynamodb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let (s3, sqs) = (moto_s3(), moto_sqs());
    let bucket = unique("exports");
    create_bucket(&s3, &bucket).await;
    // A prefix with a space and a plus: S3 notifications URL-encode keys.
    let prefix = "cdc exports+tests/run";
    let queue = notify_summaries(&s3, &sqs, &bucket, "cdc exports+tests/").await;
    let mut summaries = BTreeSet::new();

    for (n, shape) in shapes().into_iter().enumerate() {
        let table = unique("export-source");
        shape.create(&dynamodb, &table, false).await;
        let generated = generate::items(&shape, SEED + n as u64, 120);
        generate::put_items(&dynamodb, &table, &generated).await;
        let scanned = scan_all(&dynamodb, &table).await;
        assert_eq!(
            scanned.len(),
            generated.len(),
            "every generated key distinct"
        );
        assert_eq!(sorted(scanned.clone()), sorted(generated));
        let pk = shape.partition_key.name;

        // Full exports, both formats, with empty, zero-byte and multi-member files.
        for format in [Format::DynamoDbJson, Format::Ion] {
            let mut spec = ExportSpec::new(&bucket, prefix, &table, pk);
            spec.format = format;
            spec.partitions = 4;
            spec.empty_partitions = 1;
            spec.zero_byte_partitions = 1;
            spec.gzip_members = 1 + n;
            spec.multipart = format == Format::Ion;
            let written = write_full_export(&s3, &spec, &scanned).await;
            let kinds: Vec<FileKind> = written.data_files.iter().map(|f| f.kind).collect();
            assert_eq!(kinds.len(), 6);
            assert!(kinds.contains(&FileKind::ZeroByte) && kinds.contains(&FileKind::EmptyGzip));
            for file in &written.data_files {
                assert!(file
                    .key
                    .starts_with(&format!("{prefix}/AWSDynamoDB/{}/data/", written.export_id)));
                // One-part multipart uploads have AWS's `<md5 of the part md5>-1` ETag.
                let multipart = spec.multipart && file.kind != FileKind::ZeroByte;
                assert_eq!(file.etag.ends_with("-1"), multipart, "{}", file.etag);
            }
            let lines = verify(&s3, &written, format).await;
            let items = lines.into_iter().map(|line| match line {
                Line::Full(item) => item,
                other => panic!("a full export line: {other:?}"),
            });
            let items: Vec<Item> = items.collect();
            if format == Format::DynamoDbJson {
                // DYNAMODB_JSON carries DynamoDB's own number text: compare exactly.
                let exact = |v: &[Item]| {
                    let mut v: Vec<CanonicalItem> = v.iter().map(canonical_item).collect();
                    v.sort();
                    v
                };
                assert_eq!(exact(&items), exact(&scanned));
            }
            assert_eq!(sorted(items), sorted(scanned.clone()));
            summaries.insert(written.summary_key.clone());
        }

        // Incremental exports: updates with old images, inserts, deletes.
        let names = key_names(&shape);
        let changes: Vec<IncrementalChange> = scanned
            .iter()
            .take(30)
            .enumerate()
            .map(|(i, item)| {
                let micros = 1_795_278_000_000_000 + i as i64;
                match i % 3 {
                    0 => IncrementalChange::upsert(&names, item.clone(), None, micros),
                    1 => {
                        let mut old = exports::keys_of(item, &names);
                        old.insert("before".into(), AttributeValue::N("1.50".into()));
                        IncrementalChange::upsert(&names, item.clone(), Some(old), micros)
                    }
                    _ => IncrementalChange::delete(&names, item.clone(), micros),
                }
            })
            .collect();
        for (format, view) in [
            (Format::DynamoDbJson, View::NewAndOldImages),
            (Format::Ion, View::NewImage),
        ] {
            let mut spec = ExportSpec::new(&bucket, prefix, &table, pk);
            spec.format = format;
            spec.kind = Kind::Incremental {
                from_ms: 1_795_277_000_000,
                to_ms: 1_795_278_100_000,
                view,
            };
            let written = write_incremental_export(&s3, &spec, &changes).await;
            for file in &written.data_files {
                // Incremental data files share one folder, not the export's.
                assert!(file.key.starts_with(&format!("{prefix}/AWSDynamoDB/data/")));
            }
            let summary: Json = serde_json::from_str(&written.summary).unwrap();
            assert_eq!(summary["exportType"], "INCREMENTAL_EXPORT");
            assert_eq!(summary["outputView"], view.as_str());
            assert_eq!(summary["exportFromTime"], "2026-11-21T16:03:20.000Z");
            let mut lines = verify(&s3, &written, format).await;
            lines.sort_by_key(|l| match l {
                Line::Incremental { micros, .. } => *micros,
                Line::Full(_) => panic!("an incremental line"),
            });
            assert_eq!(lines.len(), changes.len());
            for (line, change) in lines.iter().zip(&changes) {
                let Line::Incremental {
                    micros,
                    keys,
                    new,
                    old,
                } = line
                else {
                    unreachable!()
                };
                assert_eq!(*micros, change.write_time_micros);
                assert_eq!(sorted([keys.clone()]), sorted([change.keys.clone()]));
                assert_eq!(
                    new.clone().map(|i| sorted([i])),
                    change.new_image.clone().map(|i| sorted([i]))
                );
                let expected_old = match view {
                    View::NewImage => None,
                    View::NewAndOldImages => change.old_image.clone(),
                };
                assert_eq!(
                    old.clone().map(|i| sorted([i])),
                    expected_old.map(|i| sorted([i]))
                );
            }
            summaries.insert(written.summary_key.clone());
        }
    }

    // One message per summary and moto's s3:TestEvent first; nothing for the other objects.
    let bodies = receive_notifications(
        &sqs,
        &queue.queue_url,
        summaries.len() + 1,
        Duration::from_secs(30),
    )
    .await;
    for body in &bodies {
        println!("notification: {body}");
    }
    assert_eq!(bodies.len(), summaries.len() + 1);
    assert!(
        notification_keys(&bodies[0]).is_empty(),
        "a test event first: {}",
        bodies[0]
    );
    let mut notified = BTreeSet::new();
    for body in &bodies[1..] {
        for object in notification_keys(body) {
            assert_eq!(object.bucket, bucket);
            assert!(
                object.event_name.starts_with("ObjectCreated:"),
                "{}",
                object.event_name
            );
            notified.insert(object.key);
        }
    }
    assert_eq!(notified, summaries);
    let more = receive_notifications(&sqs, &queue.queue_url, 1, Duration::from_secs(1)).await;
    assert!(more.is_empty(), "only summaries are announced: {more:?}");
}

/// Each fault breaks exactly what it says, and only there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_break_what_they_say() {
    let s3 = moto_s3();
    let bucket = unique("faults");
    create_bucket(&s3, &bucket).await;
    let shape = &shapes()[0];
    let items = generate::items(shape, SEED, 100);
    for format in [Format::DynamoDbJson, Format::Ion] {
        let mut spec = ExportSpec::new(&bucket, "", "faulty", "pk");
        spec.format = format;
        spec.partitions = 5;
        spec.faults = vec![
            Fault::TruncatedGzip { partition: 0 },
            Fault::BadLine {
                partition: 1,
                line: 2,
            },
            Fault::WrongItemCount {
                partition: 2,
                delta: 1,
            },
            Fault::WrongMd5 { partition: 3 },
            Fault::MissingDataFile { partition: 4 },
        ];
        let written = write_full_export(&s3, &spec, &items).await;
        assert!(written.manifest_files_key.starts_with("AWSDynamoDB/"));
        let summary: Json = serde_json::from_str(&written.summary).unwrap();
        assert_eq!(summary["s3Prefix"], Json::Null);
        let files: HashMap<usize, _> = written
            .data_files
            .iter()
            .map(|f| match f.kind {
                FileKind::Items(n) => (n, f),
                other => panic!("no empty files asked: {other:?}"),
            })
            .collect();
        let stored = |n: usize| get(&s3, &bucket, &files[&n].key);

        let truncated = stored(0).await;
        assert_eq!(md5_base64(&truncated), files[&0].md5);
        assert!(gunzip(&truncated).is_err());

        let text = gunzip(&stored(1).await).unwrap();
        assert_eq!(text.lines().count() as i64, files[&1].manifest_item_count);
        let bad = files[&1].bad_line.expect("a bad line");
        for (i, line) in text.lines().enumerate() {
            let line = line.strip_prefix("$ion_1_0 ").unwrap_or(line);
            let ok = match format {
                Format::DynamoDbJson => serde_json::from_str::<Json>(line).is_ok(),
                Format::Ion => Element::read_one(line).is_ok(),
            };
            assert_eq!(ok, i != bad, "line {i}: {line}");
        }
        // Nor does the rest of the file parse as one stream.
        if format == Format::Ion {
            assert!(Element::read_all(&text).is_err());
        }

        let text = gunzip(&stored(2).await).unwrap();
        assert_eq!(
            text.lines().count() as i64 + 1,
            files[&2].manifest_item_count
        );

        assert_ne!(md5_base64(&stored(3).await), files[&3].md5);

        let missing = s3
            .get_object()
            .bucket(&bucket)
            .key(&files[&4].key)
            .send()
            .await;
        assert!(missing.is_err(), "{} is not written", files[&4].key);
        assert!(!written.keys_written.contains(&files[&4].key));
    }
}
