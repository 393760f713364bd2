//! Bytes and objects: gzip, MD5, timestamps, names and uploads as the export writer needs them.

use std::io::{Read, Write};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use md5::{Digest, Md5};

/// `text` gzipped as `members` concatenated gzip members (at least one, even for no text).
pub(super) fn gzip(text: &[u8], members: usize) -> Vec<u8> {
    let members = members.max(1);
    let chunk = text.len().div_ceil(members).max(1);
    let mut out = Vec::new();
    for i in 0..members {
        let start = (i * chunk).min(text.len());
        let end = ((i + 1) * chunk).min(text.len());
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder
            .write_all(&text[start..end])
            .expect("gzip in memory");
        out.extend(encoder.finish().expect("gzip in memory"));
    }
    out
}

/// The text of gzip `bytes`, every member (what a reader of AWS's files must do); `Err` for
/// broken gzip or text that is not UTF-8.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    MultiGzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

/// Base64 of the MD5 of `bytes` (manifest-files.json's `md5`, S3's `Content-MD5`).
pub fn md5_base64(bytes: &[u8]) -> String {
    STANDARD.encode(Md5::digest(bytes))
}

/// Lowercase hex of the MD5 of `bytes` (a single-part upload's ETag).
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// FNV-1a: a stable hash (std's hasher may change between releases) for partitioning and seeds.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `2020-11-04T07:28:34.028Z` for `ms` since the epoch, as the summary writes times.
pub(super) fn iso_millis(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// A data file name like AWS's (`kz6ahzgruu3thbvwknkwdhlvlm`): 26 base32 letters.
pub(super) fn file_name(rng: &mut fastrand::Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..26)
        .map(|_| char::from(ALPHABET[rng.usize(0..ALPHABET.len())]))
        .collect()
}

/// A table id like AWS's (a random UUID's form).
pub(super) fn uuid(rng: &mut fastrand::Rng) -> String {
    let hex = |n: usize, rng: &mut fastrand::Rng| -> String {
        (0..n)
            .map(|_| char::from_digit(rng.u32(0..16), 16).expect("a hex digit"))
            .collect()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(8, rng),
        hex(4, rng),
        hex(4, rng),
        hex(4, rng),
        hex(12, rng)
    )
}

/// Uploads `bytes` with PutObject; returns the ETag without quotes.
pub(super) async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: &[u8]) -> String {
    let output = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e:?}"));
    unquote(output.e_tag())
}

/// Uploads `bytes` as a multipart upload of one part, as AWS's export writer does; returns the
/// ETag (`<hex>-1`) without quotes.
pub(super) async fn put_multipart(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> String {
    let fail = |step: &str, e: &dyn std::fmt::Debug| -> ! {
        panic!("{step} for s3://{bucket}/{key}: {e:?}")
    };
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| fail("create multipart upload", &e));
    let upload_id = upload.upload_id().expect("an upload id");
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| fail("upload part", &e));
    let completed = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| fail("complete multipart upload", &e));
    unquote(completed.e_tag())
}

fn unquote(etag: Option<&str>) -> String {
    etag.expect("S3 returns an ETag")
        .trim_matches('"')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_milliseconds() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_604_474_914_028), "2020-11-04T07:28:34.028Z");
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn gzip_members_concatenate_to_the_text() {
        for members in [1, 2, 5] {
            let bytes = gzip(b"line 1\nline 2\nline 3\n", members);
            assert_eq!(gunzip(&bytes).unwrap(), "line 1\nline 2\nline 3\n");
        }
        assert_eq!(gunzip(&gzip(b"", 3)).unwrap(), "");
    }

    #[test]
    fn md5_forms() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_base64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
