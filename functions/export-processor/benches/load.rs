//! Export data file loading: throughput, CPU and peak memory of `Loader::load_body` on gzip
//! data files of realistic ~2 KB order items (DYNAMODB_JSON and ION, as AWS writes them), into
//! a sink that discards the records, against baselines measured in the same run:
//!
//! * floor: gunzip (`MultiGzDecoder`) and `serde_json` tokenising each line into `IgnoredAny`,
//!   on one thread: reading the file at all cannot be cheaper on one core;
//! * gunzip: gunzip and splitting lines alone, on one thread.
//!
//! Ours runs as the function does, gunzip on a second thread, and also pinned to one core
//! (`taskset`), as a Lambda function of up to 1,769 MB gets at most one vCPU: hence wall time
//! and CPU time of the whole process are both reported.
//!
//! Every measurement runs in a fresh child process (this binary re-executed with `--one ...`),
//! so that its peak RSS (VmHWM) is its own: it must not grow with the file. Rounds interleave
//! files and paths so that machine noise hits all alike; the table shows medians.
//!
//! Run: `cargo bench -p export-processor --bench load` (figures go to docs/BENCHMARKS.md), with
//! optional arguments after `--`: `--json 50,500 --ion 50` (uncompressed MB per file; ION is
//! about a tenth as fast, so 50 MB of it takes as long as 500 MB of DYNAMODB_JSON),
//! `--rounds 5`, `--blocks 262144,2097152,8388608` (`block_bytes` compared on every
//! DYNAMODB_JSON file; `--blocks none` skips it), `--no-phases`. Generated files are kept in
//! `$CARGO_TARGET_DIR/export-bench/` (else `target/export-bench/`) for later runs.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use cdc_exports::manifest::{Format, Kind};
use cdc_exports::work::FileWork;
use cdc_record::{map_export_line, ExportSource, KeySchema, MappingOptions};
use cdc_sinks::{DeadLetter, DeadLetterError, DeadLetterQueue, FanOut, Sink, WriteReport};
use cdc_testkit::exports::{item_to_dynamodb_json, item_to_ion, VERSION_MARKER};
use export_processor::data_file::{Check, Loader};
use export_processor::decode;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use md5::{Digest, Md5};

type Item = HashMap<String, AttributeValue>;

/// Bump when the generated items change, so that cached files are made anew.
const GENERATOR: u32 = 3;
/// The loader's default (`CDC_EXPORT_BATCH_BYTES`).
const DEFAULT_BLOCK: usize = 2 << 20;
const EXPORT_TIME_MS: i64 = 1_795_278_192_000;
const MB: f64 = 1e6;

fn main() {
    // `cargo bench` passes `--bench` to every harness-less bench binary.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--one") {
        child(&args[1..]);
    } else {
        parent(&Options::parse(&args));
    }
}

// ---------------------------------------------------------------------------------------------
// Generated data files

/// An order-like item of ~2 KB as DynamoDB JSON: strings with free text and non-ASCII, numbers
/// with a 38-digit one, a nested map, a list of maps, the three sets, binary, BOOL and NULL.
/// The same `i` always gives the same item, whatever the format.
fn order(i: u64) -> Item {
    let mut rng = Rng(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let s = |v: String| AttributeValue::S(v);
    let n = |v: String| AttributeValue::N(v);
    let map = |pairs: Vec<(&str, AttributeValue)>| {
        AttributeValue::M(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let lines = (0..2 + rng.below(4))
        .map(|line| {
            map(vec![
                ("sku", s(format!("SKU-{:06}", rng.below(1_000_000)))),
                ("title", s(rng.text(4 + line as usize % 5))),
                ("qty", n((1 + rng.below(9)).to_string())),
                (
                    "price",
                    n(format!("{}.{:02}", rng.below(500), rng.below(100))),
                ),
                (
                    "attributes",
                    map(vec![
                        ("colour", s(rng.pick(COLOURS).to_string())),
                        (
                            "size",
                            s(rng.pick(&["XS", "S", "M", "L", "XL"]).to_string()),
                        ),
                    ]),
                ),
            ])
        })
        .collect();
    let note_words = 40 + rng.below(40) as usize;
    let thumbnail_bytes = 96 + rng.below(64) as usize;
    let item = vec![
        ("pk", s(format!("customer#{:08}", rng.below(5_000_000)))),
        ("sk", s(format!("order#2026-11-{:02}#{i:010}", 1 + i % 28))),
        (
            "status",
            s(rng
                .pick(&["PENDING", "PAID", "SHIPPED", "DELIVERED"])
                .to_string()),
        ),
        (
            "currency",
            s(rng.pick(&["EUR", "USD", "JPY", "CHF"]).to_string()),
        ),
        (
            "total",
            n(format!("{}.{:02}", rng.below(100_000), rng.below(100))),
        ),
        (
            "created",
            n((EXPORT_TIME_MS - rng.below(10_000_000_000) as i64).to_string()),
        ),
        ("exact", n(rng.exact_38())),
        ("quantity", n(rng.below(40).to_string())),
        ("gift", AttributeValue::Bool(rng.below(5) == 0)),
        ("coupon", AttributeValue::Null(true)),
        ("note", s(rng.text(note_words))),
        (
            "customer",
            map(vec![
                ("name", s(rng.pick(NAMES).to_string())),
                (
                    "email",
                    s(format!("user{}@example.com", rng.below(1_000_000))),
                ),
                (
                    "address",
                    map(vec![
                        (
                            "street",
                            s(format!("{} {}", rng.pick(STREETS), 1 + rng.below(200))),
                        ),
                        ("city", s(rng.pick(CITIES).to_string())),
                        ("zip", s(format!("{:05}", rng.below(100_000)))),
                        (
                            "geo",
                            map(vec![
                                (
                                    "lat",
                                    n(format!("{}.{:06}", rng.below(90), rng.below(1_000_000))),
                                ),
                                (
                                    "lon",
                                    n(format!("-{}.{:06}", rng.below(180), rng.below(1_000_000))),
                                ),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ),
        ("lines", AttributeValue::L(lines)),
        (
            "tags",
            AttributeValue::Ss(vec![
                "web".into(),
                rng.pick(CITIES).to_string(),
                format!("campaign-{}", rng.below(50)),
            ]),
        ),
        (
            "scores",
            AttributeValue::Ns(vec![
                format!("{}.5", rng.below(100)),
                rng.below(1000).to_string(),
                rng.exact_38(),
            ]),
        ),
        (
            "thumbnail",
            AttributeValue::B(Blob::new(rng.bytes(thumbnail_bytes))),
        ),
        (
            "signatures",
            AttributeValue::Bs(vec![Blob::new(rng.bytes(32)), Blob::new(rng.bytes(32))]),
        ),
    ];
    item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

// rustfmt would give every word a line of its own.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "please", "leave", "the", "parcel", "with", "neighbour", "if", "nobody", "is", "at", "home",
    "fragile", "glass", "handle", "with", "care", "gift", "wrap", "birthday", "present", "door",
    "code", "ring", "twice", "back", "entrance", "invoice", "attached", "company", "VAT", "number",
    "deliver", "before", "noon", "thanks", "a", "lot", "Straße", "café", "naïve", "façade",
    "Grüße", "お届け", "ありがとう", "📦", "🚀", "señor", "Kraków", "Zürich", "\"quoted\"", "tab\there",
    "line\nbreak", "back\\slash", "100%", "€42", "½", "—", "Ελλάδα", "Москва",
];
#[rustfmt::skip]
const COLOURS: &[&str] = &["red", "blue", "green", "black", "white", "bleu ciel", "grün"];
#[rustfmt::skip]
const NAMES: &[&str] = &["Zoë Müller", "José Álvarez", "Łukasz Żółć", "佐藤 花子", "Ana O'Neil"];
#[rustfmt::skip]
const STREETS: &[&str] = &["Große Straße", "Rue de la Paix", "Main St", "Via Roma", "Калинина"];
#[rustfmt::skip]
const CITIES: &[&str] = &["Berlin", "Paris", "東京", "São Paulo", "Reykjavík", "New York"];

/// splitmix64: deterministic and fast, so files are the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Free text: common words and made-up ones (names, references, typos), so that it
    /// compresses about as well as real notes do rather than like a ten-word vocabulary.
    fn text(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| match self.below(3) {
                0 => self.pick(WORDS).to_owned(),
                _ => self.word(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn word(&mut self) -> String {
        (0..3 + self.below(7))
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }

    /// A number with all of DynamoDB's 38 significant digits.
    fn exact_38(&mut self) -> String {
        let digits: String = (0..38)
            .map(|i| char::from(b'0' + (self.below(9) + u64::from(i == 0)) as u8))
            .collect();
        format!("{}.{}", &digits[..20], &digits[20..])
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One generated gzip data file.
#[derive(Debug, Clone)]
struct DataFile {
    path: PathBuf,
    format: Format,
    /// Nominal size, uncompressed MB.
    size_mb: u64,
    /// Exact uncompressed bytes and lines.
    bytes: u64,
    lines: u64,
    gz_bytes: u64,
}

impl DataFile {
    fn label(&self) -> String {
        format!("{} {} MB", format_name(self.format), self.size_mb)
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::DynamoDbJson => "DYNAMODB_JSON",
        Format::Ion => "ION",
    }
}

fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // target/release/deps/load-HASH → target
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(std::env::temp_dir);
    target.join("export-bench")
}

/// The file of `size_mb` uncompressed MB in `format`, generated once and kept (with its line
/// and byte counts beside it) for later runs. Written as it is generated, never whole in memory.
fn data_file(format: Format, size_mb: u64) -> DataFile {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).expect("cache dir");
    let ext = match format {
        Format::DynamoDbJson => "json.gz",
        Format::Ion => "ion.gz",
    };
    let path = dir.join(format!("orders-v{GENERATOR}-{size_mb}MB.{ext}"));
    let meta = path.with_extension("gz.meta");
    let file = |bytes: u64, lines: u64| DataFile {
        gz_bytes: std::fs::metadata(&path).expect("data file").len(),
        path: path.clone(),
        format,
        size_mb,
        bytes,
        lines,
    };
    if let Some((bytes, lines)) = std::fs::read_to_string(&meta).ok().and_then(|m| {
        let (b, l) = m.trim().split_once(' ')?;
        Some((b.parse().ok()?, l.parse().ok()?))
    }) {
        if path.exists() {
            return file(bytes, lines);
        }
    }
    eprintln!("generating {} ...", path.display());
    let partial = path.with_extension("gz.partial");
    let mut out = GzEncoder::new(
        BufWriter::new(File::create(&partial).expect("create data file")),
        Compression::default(),
    );
    let (mut bytes, mut lines) = (0u64, 0u64);
    while bytes < size_mb * 1_000_000 {
        let item = order(lines);
        let line = match format {
            Format::DynamoDbJson => format!("{{\"Item\":{}}}\n", item_to_dynamodb_json(&item)),
            // AWS's ION files start with the version marker, on the first item's line.
            Format::Ion if lines == 0 => {
                format!("{VERSION_MARKER} {{Item:{}}}\n", item_to_ion(&item))
            }
            Format::Ion => format!("{{Item:{}}}\n", item_to_ion(&item)),
        };
        out.write_all(line.as_bytes()).expect("write data file");
        bytes += line.len() as u64;
        lines += 1;
    }
    out.finish()
        .and_then(|mut w| w.flush())
        .expect("finish data file");
    std::fs::rename(&partial, &path).expect("rename data file");
    std::fs::write(&meta, format!("{bytes} {lines}\n")).expect("write meta");
    file(bytes, lines)
}

// ---------------------------------------------------------------------------------------------
// One measurement, in its own process

/// What one child process measured.
#[derive(Debug, Clone, Default)]
struct Measured {
    wall: f64,
    /// User + system CPU seconds of the whole process (all threads).
    cpu: f64,
    /// Peak RSS, KB.
    hwm_kb: f64,
    /// Named extra figures (phase timings).
    extra: HashMap<String, f64>,
}

/// `--one MODE FORMAT PATH LINES BLOCK_BYTES`: runs one measurement and prints it.
fn child(args: &[String]) {
    let [mode, format, path, lines, block] = args else {
        panic!("--one MODE FORMAT PATH LINES BLOCK_BYTES, not {args:?}");
    };
    let format = match format.as_str() {
        "json" => Format::DynamoDbJson,
        "ion" => Format::Ion,
        other => panic!("format json or ion, not {other}"),
    };
    let path = Path::new(path);
    let lines: u64 = lines.parse().expect("LINES");
    let block: usize = block.parse().expect("BLOCK_BYTES");
    let mut extra = HashMap::new();
    let (wall, cpu) = match mode.as_str() {
        "floor" => measure(|| floor(path, lines)),
        "gunzip" => measure(|| gunzip(path, lines)),
        "ours" => ours(path, format, lines, block, false),
        "decode" => ours(path, format, lines, block, true),
        "phases" => measure(|| phases(path, format, lines, block, &mut extra)),
        other => panic!("mode floor, gunzip, ours, decode or phases, not {other}"),
    };
    let mut out = format!("RESULT wall={wall} cpu={cpu} hwm_kb={}", peak_rss_kb());
    for (k, v) in extra {
        out.push_str(&format!(" {k}={v}"));
    }
    println!("{out}");
}

/// Wall and process CPU seconds of `f`.
fn measure(f: impl FnOnce()) -> (f64, f64) {
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    f();
    (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0)
}

/// User + system time of every thread of this process, from /proc/self/stat (no `unsafe`
/// getrusage); ticks are USER_HZ, 100 on every Linux ABI we run on.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("ticks");
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn gunzipped(path: &Path) -> BufReader<MultiGzDecoder<BufReader<File>>> {
    let file = File::open(path).expect("open data file");
    BufReader::with_capacity(
        64 << 10,
        MultiGzDecoder::new(BufReader::with_capacity(64 << 10, file)),
    )
}

/// The floor: gunzip and tokenise every line, one thread.
fn floor(path: &Path, lines: u64) {
    let mut reader = gunzipped(path);
    let mut line = Vec::with_capacity(8192);
    let mut n = 0;
    while reader.read_until(b'\n', &mut line).expect("gunzip") > 0 {
        serde_json::from_slice::<serde::de::IgnoredAny>(&line).expect("a JSON line");
        line.clear();
        n += 1;
    }
    assert_eq!(n, lines);
}

/// Gunzip and split lines alone, one thread.
fn gunzip(path: &Path, lines: u64) {
    let mut reader = gunzipped(path);
    let mut n = 0;
    loop {
        let buf = reader.fill_buf().expect("gunzip");
        if buf.is_empty() {
            break;
        }
        n += memchr::memchr_iter(b'\n', buf).count() as u64;
        let len = buf.len();
        reader.consume(len);
    }
    assert_eq!(n, lines);
}

/// A sink that accepts and drops every record: what is timed is the loader alone.
struct Discard;

#[async_trait]
impl Sink for Discard {
    fn name(&self) -> &str {
        "discard"
    }

    async fn write(
        &self,
        _records: &[cdc_record::ChangeRecord<'_>],
        _deadline: tokio::time::Instant,
    ) -> WriteReport {
        WriteReport::ok()
    }
}

/// A dead-letter queue that drops every letter (none is expected: the bench checks).
struct DiscardLetters;

#[async_trait]
impl DeadLetterQueue for DiscardLetters {
    fn name(&self) -> &str {
        "discard"
    }

    async fn send(
        &self,
        _letters: &[DeadLetter<'_>],
        _deadline: tokio::time::Instant,
    ) -> Result<(), DeadLetterError> {
        Ok(())
    }
}

fn work(format: Format, lines: u64) -> FileWork {
    FileWork {
        bucket: "bench".into(),
        key: "AWSDynamoDB/01700000000000-bench/data/file.gz".into(),
        export_arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/export/bench".into(),
        table_name: "orders".into(),
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
        format,
        kind: Kind::Full {
            export_time_ms: EXPORT_TIME_MS,
        },
        item_count: lines,
        md5: None,
        start_line: 0,
    }
}

/// `Loader::load_body` on the file, as the function runs it (tokio's multi-threaded runtime,
/// gunzip on a blocking thread); with `decode_only`, only the loader's decode thread, its
/// blocks dropped as they come (where the time goes).
fn ours(
    path: &Path,
    format: Format,
    lines: u64,
    block_bytes: usize,
    decode_only: bool,
) -> (f64, f64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // Only `Loader::load` calls S3; `load_body` is given the bytes.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::from_static("eu-west-1"))
                .build(),
        );
        let sinks = FanOut::new(vec![Box::new(Discard)]);
        let loader = Loader {
            s3: &s3,
            sinks: &sinks,
            dead_letters: &DiscardLetters,
            mapping: MappingOptions::default(),
            version_margin_ms: cdc_record::version::DEFAULT_EXPORT_MARGIN_MS,
            block_bytes,
        };
        let work = work(format, lines);
        // A file stream in 64 KiB chunks, much as S3's body arrives.
        let body = ByteStream::from_path(path).await.expect("open data file");
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        if decode_only {
            decode_alone(body, block_bytes, lines).await;
        } else {
            let stop_at = tokio::time::Instant::now() + Duration::from_secs(3600);
            let loaded = loader.load_body(&work, 0, body, stop_at).await;
            assert_eq!(loaded.stop, None, "{loaded:?}");
            assert_eq!(loaded.check, Some(Check { mismatch: None }), "{loaded:?}");
            assert_eq!((loaded.records, loaded.dead_letters), (lines, 0));
        }
        (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0)
    })
}

/// The loader's decode thread fed as `load_body` feeds it, its blocks dropped.
async fn decode_alone(mut body: ByteStream, block_bytes: usize, lines: u64) {
    let (chunks, received) = tokio::sync::mpsc::channel(8);
    let feeder = tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string());
            if chunks.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let (mut blocks, decoder) = decode::spawn(received, 0, block_bytes);
    while blocks.recv().await.is_some() {}
    let totals = decoder.await.expect("decoder").expect("decode");
    feeder.await.expect("feeder");
    assert_eq!(totals.lines, lines);
}

/// Our path's work on one thread, phase by phase: MD5 of the object, gunzip into blocks of
/// lines (`decode::decode`), splitting and UTF-8 checking the lines, ION to DYNAMODB_JSON,
/// mapping; then JSON Lines encoding, which the loader does not do but the file, S3 and stdout
/// sinks would.
fn phases(
    path: &Path,
    format: Format,
    lines: u64,
    block_bytes: usize,
    out: &mut HashMap<String, f64>,
) {
    let t = Instant::now();
    let mut md5 = Md5::new();
    let mut file = BufReader::with_capacity(64 << 10, File::open(path).expect("open"));
    loop {
        let buf = file.fill_buf().expect("read");
        if buf.is_empty() {
            break;
        }
        md5.update(buf);
        let len = buf.len();
        file.consume(len);
    }
    std::hint::black_box(md5.finalize());
    out.insert("md5".into(), t.elapsed().as_secs_f64());

    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    };
    let source = ExportSource {
        table_name: "orders",
        key_schema: &schema,
        kind: cdc_record::ExportKind::Full {
            export_time_ms: EXPORT_TIME_MS,
        },
        version_margin_ms: cdc_record::version::DEFAULT_EXPORT_MARGIN_MS,
        options: MappingOptions::default(),
    };
    let (mut split, mut ion, mut map, mut encode) = (0f64, 0f64, 0f64, 0f64);
    let t = Instant::now();
    let file = File::open(path).expect("open");
    // Everything done with a block is timed, its freeing too, so that the rest of the total
    // is the decoder's own work.
    let emit = |block: decode::Block| {
        let t0 = Instant::now();
        // As `data_file::lines` splits and checks them.
        let text = block.text.strip_suffix(b"\n").unwrap_or(&block.text);
        let lines: Vec<&str> = text
            .split(|b| *b == b'\n')
            .map(|l| std::str::from_utf8(l).expect("UTF-8"))
            .collect();
        let t1 = Instant::now();
        let json: Vec<String> = match format {
            Format::DynamoDbJson => Vec::new(),
            Format::Ion => lines
                .iter()
                .map(|l| {
                    let mut j = String::with_capacity(l.len() * 3 / 2);
                    cdc_record::ion_line_to_json(l, &mut j).expect("an ION line");
                    j
                })
                .collect(),
        };
        let texts: Vec<&str> = match format {
            Format::DynamoDbJson => lines.clone(),
            Format::Ion => json.iter().map(String::as_str).collect(),
        };
        let t2 = Instant::now();
        let records: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, l)| map_export_line(l, block.first_line + i as u64, &source).expect("maps"))
            .collect();
        let t3 = Instant::now();
        drop(std::hint::black_box(cdc_sinks::jsonl::encode(&records)));
        let t4 = Instant::now();
        drop(records);
        let t5 = Instant::now();
        drop(texts);
        drop(json);
        drop(lines);
        drop(block);
        let t6 = Instant::now();
        split += (t1 - t0 + (t6 - t5)).as_secs_f64();
        ion += (t2 - t1).as_secs_f64();
        map += (t3 - t2 + (t5 - t4)).as_secs_f64();
        encode += (t4 - t3).as_secs_f64();
        true
    };
    let decoded = decode::decode(file, 0, block_bytes, emit, || true).expect("decode");
    assert_eq!(decoded, lines);
    let total = t.elapsed().as_secs_f64();
    out.insert("gunzip_split".into(), total - split - ion - map - encode);
    out.insert("split".into(), split);
    out.insert("ion".into(), ion);
    out.insert("map".into(), map);
    out.insert("encode".into(), encode);
}

// ---------------------------------------------------------------------------------------------
// The parent: files, rounds, tables

struct Options {
    json: Vec<u64>,
    ion: Vec<u64>,
    rounds: usize,
    blocks: Vec<usize>,
    phases: bool,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut options = Options {
            json: vec![50, 500],
            ion: vec![50],
            rounds: 5,
            blocks: vec![256 << 10, DEFAULT_BLOCK, 8 << 20],
            phases: true,
        };
        let list = |v: Option<&String>| -> Vec<u64> {
            let v = v.expect("a value after the option");
            if v == "none" {
                return vec![];
            }
            v.split(',')
                .map(|n| n.parse().expect("a whole number"))
                .collect()
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = list(args.next()),
                "--ion" => options.ion = list(args.next()),
                "--rounds" => options.rounds = list(args.next())[0] as usize,
                "--blocks" => {
                    options.blocks = list(args.next()).into_iter().map(|b| b as usize).collect()
                }
                "--no-phases" => options.phases = false,
                other => panic!("unknown argument {other}"),
            }
        }
        options
    }
}

/// Runs `--one` in a fresh process; `ours-1core` is `ours` pinned to one CPU with `taskset`,
/// as a Lambda function of up to 1,769 MB gets at most one vCPU.
fn run(mode: &str, file: &DataFile, block: usize) -> Measured {
    let format = match file.format {
        Format::DynamoDbJson => "json",
        Format::Ion => "ion",
    };
    let exe = std::env::current_exe().expect("this binary");
    let mut command = match mode.strip_suffix("-1core") {
        Some(_) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", "0"]).arg(exe);
            taskset
        }
        None => Command::new(exe),
    };
    let output = command
        .args(["--one", mode.trim_end_matches("-1core"), format])
        .arg(&file.path)
        .args([file.lines.to_string(), block.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{mode} {}: {stdout}", file.label());
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let mut measured = Measured::default();
    for pair in line.split_whitespace() {
        let (k, v) = pair.split_once('=').expect("key=value");
        let v: f64 = v.parse().expect("a number");
        match k {
            "wall" => measured.wall = v,
            "cpu" => measured.cpu = v,
            "hwm_kb" => measured.hwm_kb = v,
            _ => {
                measured.extra.insert(k.to_owned(), v);
            }
        }
    }
    measured
}

/// Medians of wall and CPU time and of every extra figure, the largest peak RSS.
fn summary(runs: &[Measured]) -> Measured {
    let median = |f: &dyn Fn(&Measured) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Measured {
        wall: median(&|m| m.wall),
        cpu: median(&|m| m.cpu),
        hwm_kb: runs.iter().map(|m| m.hwm_kb).fold(0.0, f64::max),
        extra: runs[0]
            .extra
            .keys()
            .map(|k| (k.clone(), median(&|m| m.extra[k])))
            .collect(),
    }
}

fn paths(format: Format) -> &'static [&'static str] {
    match format {
        // serde_json cannot tokenise ION: its floor is the JSON floor of the same items.
        Format::DynamoDbJson => &["floor", "gunzip", "ours", "ours-1core"],
        Format::Ion => &["gunzip", "ours", "ours-1core"],
    }
}

fn path_name(mode: &str) -> &'static str {
    match mode {
        "floor" => "floor (gunzip + IgnoredAny, 1 thread)",
        "gunzip" => "gunzip + split lines (1 thread)",
        "ours" => "**ours** (`load_body`, discarding sink)",
        "ours-1core" => "ours, pinned to 1 core",
        "decode" => "ours, decode thread alone (blocks dropped)",
        _ => "?",
    }
}

fn parent(options: &Options) {
    let mut files: Vec<DataFile> = Vec::new();
    for &mb in &options.json {
        files.push(data_file(Format::DynamoDbJson, mb));
    }
    for &mb in &options.ion {
        files.push(data_file(Format::Ion, mb));
    }
    println!(
        "{} round(s), each path of each file in a fresh process, interleaved; medians (peak RSS: largest); load average before: {}\n",
        options.rounds,
        load_average()
    );
    let mut results: HashMap<(usize, &str), Vec<Measured>> = HashMap::new();
    for round in 0..options.rounds {
        eprintln!("round {}/{}", round + 1, options.rounds);
        for (i, file) in files.iter().enumerate() {
            for &mode in paths(file.format) {
                results
                    .entry((i, mode))
                    .or_default()
                    .push(run(mode, file, DEFAULT_BLOCK));
            }
        }
    }
    main_table(&files, &results);
    println!("\nload average after the main table: {}", load_average());
    if options.phases {
        phases_tables(&files, options.rounds.min(3));
    }
    if !options.blocks.is_empty() {
        let json: Vec<&DataFile> = files
            .iter()
            .filter(|f| f.format == Format::DynamoDbJson)
            .collect();
        blocks_table(&json, &options.blocks, options.rounds.min(3));
    }
}

/// The machine is shared: say how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Records per second of the DYNAMODB_JSON floor of the same nominal size, if measured.
fn floor_rate(
    files: &[DataFile],
    results: &HashMap<(usize, &str), Vec<Measured>>,
    size_mb: u64,
) -> Option<f64> {
    let i = files
        .iter()
        .position(|f| f.format == Format::DynamoDbJson && f.size_mb == size_mb)?;
    let floor = summary(results.get(&(i, "floor"))?);
    Some(files[i].lines as f64 / floor.wall)
}

fn main_table(files: &[DataFile], results: &HashMap<(usize, &str), Vec<Measured>>) {
    println!("| file | items | gzip ratio | path | MB/s (wall) | vs floor | records/s | wall s (range) | CPU s | CPU-s per GB | peak RSS MB |");
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, file) in files.iter().enumerate() {
        let floor = floor_rate(files, results, file.size_mb);
        for &mode in paths(file.format) {
            let runs = &results[&(i, mode)];
            let m = summary(runs);
            let (low, high) = runs
                .iter()
                .fold((f64::MAX, 0f64), |(l, h), r| (l.min(r.wall), h.max(r.wall)));
            let records = file.lines as f64 / m.wall;
            let vs_floor = floor.map_or("—".into(), |f| format!("{:.0}%", 100.0 * records / f));
            println!(
                "| {} | {} | {:.2} | {} | {:.0} | {} | {:.0} | {:.2} ({low:.2}–{high:.2}) | {:.2} | {:.2} | {:.0} |",
                file.label(),
                file.lines,
                file.bytes as f64 / file.gz_bytes as f64,
                path_name(mode),
                file.bytes as f64 / MB / m.wall,
                vs_floor,
                records,
                m.wall,
                m.cpu,
                m.cpu / (file.bytes as f64 / 1e9),
                m.hwm_kb / 1024.0,
            );
        }
    }
    println!("\nvs floor: records/s against the DYNAMODB_JSON floor of the same size (same items; for DYNAMODB_JSON the MB/s ratio).");
}

/// Where the time goes, on the smallest file of each format: the loader's decode thread alone
/// against the full load, and the single-thread phases in seconds per GB of lines.
fn phases_tables(files: &[DataFile], rounds: usize) {
    let mut smallest: Vec<&DataFile> = Vec::new();
    for format in [Format::DynamoDbJson, Format::Ion] {
        smallest.extend(
            files
                .iter()
                .filter(|f| f.format == format)
                .min_by_key(|f| f.size_mb),
        );
    }
    println!("\nWhere the time goes ({rounds} rounds, medians):\n");
    println!("| file | path | MB/s (wall) | CPU-s per GB |");
    println!("|---|---|---:|---:|");
    for file in &smallest {
        let mut decode = Vec::new();
        let mut full = Vec::new();
        for _ in 0..rounds {
            decode.push(run("decode", file, DEFAULT_BLOCK));
            full.push(run("ours", file, DEFAULT_BLOCK));
        }
        for (mode, runs) in [("decode", decode), ("ours", full)] {
            let m = summary(&runs);
            println!(
                "| {} | {} | {:.0} | {:.2} |",
                file.label(),
                path_name(mode),
                file.bytes as f64 / MB / m.wall,
                m.cpu / (file.bytes as f64 / 1e9),
            );
        }
    }
    println!("\nOne thread, phase by phase (seconds per GB of lines; encode is a serialising sink's cost, not the loader's):\n");
    println!("| file | MD5 | gunzip into blocks | split lines + UTF-8 check | ION to JSON | map | total loader work | (JSON Lines encode) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for file in &smallest {
        let runs: Vec<Measured> = (0..rounds)
            .map(|_| run("phases", file, DEFAULT_BLOCK))
            .collect();
        let m = summary(&runs);
        let per_gb = |k: &str| m.extra[k] / (file.bytes as f64 / 1e9);
        let total: f64 = ["md5", "gunzip_split", "split", "ion", "map"]
            .iter()
            .map(|k| per_gb(k))
            .sum();
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} |",
            file.label(),
            per_gb("md5"),
            per_gb("gunzip_split"),
            per_gb("split"),
            match file.format {
                Format::DynamoDbJson => "—".to_owned(),
                Format::Ion => format!("{:.2}", per_gb("ion")),
            },
            per_gb("map"),
            total,
            per_gb("encode"),
        );
    }
}

/// `block_bytes` against throughput and peak memory, on every DYNAMODB_JSON file: peak RSS
/// should follow the block size, not the file size.
fn blocks_table(files: &[&DataFile], blocks: &[usize], rounds: usize) {
    let mut results: HashMap<(usize, usize), Vec<Measured>> = HashMap::new();
    for _ in 0..rounds {
        for (f, file) in files.iter().enumerate() {
            for &block in blocks {
                results
                    .entry((f, block))
                    .or_default()
                    .push(run("ours", file, block));
            }
        }
    }
    println!("\n`block_bytes` ({rounds} rounds, medians; peak RSS: largest):\n");
    println!("| file | block_bytes | MB/s (wall) | CPU-s per GB | peak RSS MB |");
    println!("|---|---:|---:|---:|---:|");
    for (f, file) in files.iter().enumerate() {
        for &block in blocks {
            let m = summary(&results[&(f, block)]);
            println!(
                "| {} | {} KiB | {:.0} | {:.2} | {:.0} |",
                file.label(),
                block >> 10,
                file.bytes as f64 / MB / m.wall,
                m.cpu / (file.bytes as f64 / 1e9),
                m.hwm_kb / 1024.0,
            );
        }
    }
}
