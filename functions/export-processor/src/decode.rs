//! A data object's bytes, as S3 streams them, to blocks of whole lines.
//!
//! Gunzip is the largest single cost of a load, so it runs on a blocking thread beside the
//! mapping and writing, handing over blocks of about `block_bytes` of whole lines through a
//! channel of two: memory stays a few blocks whatever the file's size. The object's MD5 is
//! taken on the way, over the bytes as stored.

use std::io::{self, BufRead, BufReader, Read};

use bytes::Bytes;
use flate2::bufread::MultiGzDecoder;
use md5::{Digest, Md5};
use tokio::sync::mpsc;

/// Whole lines of the decompressed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The (1-based) number of the first line in `text`.
    pub first_line: u64,
    /// Whole lines, each ending in `\n` but perhaps the file's last.
    pub text: Vec<u8>,
}

/// What the whole object held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Lines in the decompressed file.
    pub lines: u64,
    /// MD5 of the object's bytes.
    pub md5: [u8; 16],
}

/// Why an object could not be decoded to its end.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The gzip data is broken or cut short: the object itself is bad, so reading it again
    /// does not help.
    #[error("not a complete gzip file (after line {after_line}): {error}")]
    Gzip {
        /// Lines decoded before the fault.
        after_line: u64,
        /// The decompressor's error.
        error: io::Error,
    },
    /// S3 stopped delivering the object's bytes: reading again from the last whole line may
    /// succeed.
    #[error("reading the object failed after line {after_line}: {error}")]
    Read {
        /// Whole lines decoded before the failure.
        after_line: u64,
        /// The source's error.
        error: String,
    },
    /// A line longer than [`MAX_LINE`]: not an export data file.
    #[error("line {line} is longer than {MAX_LINE} bytes: not a DynamoDB export data file")]
    LineTooLong {
        /// The line's number (1-based).
        line: u64,
    },
    /// The consumer stopped taking blocks.
    #[error("stopped")]
    Stopped,
}

/// No line of an export comes near this: a DynamoDB item holds at most 400 KB, which its JSON
/// at worst escapes sixfold. Past it the input is not an export, and memory stays bounded.
pub const MAX_LINE: usize = 32 << 20;

/// Decodes the object whose bytes arrive on `chunks` on a blocking thread; blocks of lines
/// after the first `skip_lines` arrive on the returned channel, and the handle gives the totals
/// once the whole object was read.
pub fn spawn(
    chunks: mpsc::Receiver<Result<Bytes, String>>,
    skip_lines: u64,
    block_bytes: usize,
) -> (
    mpsc::Receiver<Block>,
    tokio::task::JoinHandle<Result<Totals, DecodeError>>,
) {
    let (blocks, received) = mpsc::channel(2);
    let handle = tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader {
            chunks,
            current: Bytes::new(),
            md5: Md5::new(),
        };
        let lines = decode(
            &mut reader,
            skip_lines,
            block_bytes,
            |block| blocks.blocking_send(block).is_ok(),
            // Skipping to a checkpoint emits nothing for a while: stop as soon as nobody waits.
            || !blocks.is_closed(),
        )?;
        // The decoder may stop at the gzip end with bytes unread: take them into the MD5.
        let mut rest = [0u8; 8192];
        while reader.read(&mut rest).map_err(|e| read_error(lines, e))? > 0 {}
        Ok(Totals {
            lines,
            md5: reader.md5.finalize().into(),
        })
    });
    (received, handle)
}

/// Decodes `source`, passing blocks of lines after the first `skip_lines` to `emit` (which
/// says whether to go on, as `go_on` does between reads); returns the number of lines. When the
/// gzip data turns out broken, every line decoded before is still passed on, the incomplete last
/// one too (it will fail to map and be dead-lettered), before the error.
pub fn decode(
    source: impl Read,
    skip_lines: u64,
    block_bytes: usize,
    mut emit: impl FnMut(Block) -> bool,
    go_on: impl Fn() -> bool,
) -> Result<u64, DecodeError> {
    let mut source = BufReader::with_capacity(64 << 10, source);
    // A zero-byte object is an empty partition, as is an empty gzip file.
    if source.fill_buf().map_err(|e| read_error(0, e))?.is_empty() {
        return Ok(0);
    }
    let mut gz = MultiGzDecoder::new(source);
    let mut lines = Lines {
        skip: skip_lines,
        done: 0,
        buf: Vec::with_capacity(block_bytes + (64 << 10)),
    };
    let mut chunk = vec![0u8; block_bytes.clamp(1, 64 << 10)];
    loop {
        if !go_on() {
            return Err(DecodeError::Stopped);
        }
        let n = match gz.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let error = read_error(0, e);
                // S3 failing to deliver is retried from the last whole line; broken gzip is
                // not, so what was decoded of the last line goes on to be dead-lettered too.
                let rest = match error {
                    DecodeError::Gzip { .. } => lines.take_all(),
                    _ => lines.take_whole(),
                };
                if let Some(block) = rest {
                    if !emit(block) {
                        return Err(DecodeError::Stopped);
                    }
                }
                return Err(error.after(lines.done));
            }
        };
        if n == 0 {
            break;
        }
        lines.buf.extend_from_slice(&chunk[..n]);
        if lines.buf.len() >= block_bytes {
            let whole = lines.take_whole();
            if whole.is_none() && lines.buf.len() > MAX_LINE {
                return Err(DecodeError::LineTooLong {
                    line: lines.done + 1,
                });
            }
            if whole.is_some_and(|block| !emit(block)) {
                return Err(DecodeError::Stopped);
            }
        }
    }
    if let Some(block) = lines.take_all() {
        if !emit(block) {
            return Err(DecodeError::Stopped);
        }
    }
    Ok(lines.done)
}

impl DecodeError {
    /// The same error, after line `line`.
    fn after(self, line: u64) -> Self {
        match self {
            DecodeError::Gzip { error, .. } => DecodeError::Gzip {
                after_line: line,
                error,
            },
            DecodeError::Read { error, .. } => DecodeError::Read {
                after_line: line,
                error,
            },
            other => other,
        }
    }
}

/// Decompressed bytes not yet handed over.
struct Lines {
    skip: u64,
    /// Lines handed over or skipped.
    done: u64,
    buf: Vec<u8>,
}

impl Lines {
    /// The whole lines in the buffer, keeping the partial last one.
    fn take_whole(&mut self) -> Option<Block> {
        let end = memchr::memrchr(b'\n', &self.buf)? + 1;
        // The partial line starts a buffer as large as this one, so that filling it to a
        // block never reallocates (a `split_off` tail would grow from the line's size).
        let mut rest = Vec::with_capacity(self.buf.capacity());
        rest.extend_from_slice(&self.buf[end..]);
        self.buf.truncate(end);
        let text = std::mem::replace(&mut self.buf, rest);
        self.block(text)
    }

    /// Everything left (at the end of the file, whose last line may have no newline).
    fn take_all(&mut self) -> Option<Block> {
        let text = std::mem::take(&mut self.buf);
        if text.is_empty() {
            return None;
        }
        self.block(text)
    }

    fn block(&mut self, mut text: Vec<u8>) -> Option<Block> {
        let first_line = self.done + 1;
        let count = count_lines(&text);
        self.done += count;
        if self.done <= self.skip {
            return None;
        }
        if first_line <= self.skip {
            let drop = (self.skip + 1 - first_line) as usize;
            let cut = memchr::memchr_iter(b'\n', &text)
                .nth(drop - 1)
                .map_or(text.len(), |at| at + 1);
            text.drain(..cut);
            return Some(Block {
                first_line: self.skip + 1,
                text,
            });
        }
        Some(Block { first_line, text })
    }
}

/// Lines in `text`: its newlines, plus a last line without one.
fn count_lines(text: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', text).count() as u64;
    newlines + u64::from(text.last().is_some_and(|b| *b != b'\n'))
}

/// The object's chunks as a `Read`, hashing them on the way.
struct ChunkReader {
    chunks: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
    md5: Md5,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.md5.update(&chunk);
                    self.current = chunk;
                }
                Some(Err(e)) => return Err(io::Error::other(SourceError(e))),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// S3 failed to deliver the object's bytes (as opposed to the bytes not being gzip).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SourceError(String);

fn read_error(after_line: u64, error: io::Error) -> DecodeError {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<SourceError>())
    {
        Some(SourceError(e)) => DecodeError::Read {
            after_line,
            error: e.clone(),
        },
        None => DecodeError::Gzip { after_line, error },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    fn blocks(
        object: &[u8],
        skip: u64,
        block_bytes: usize,
    ) -> Result<(Vec<Block>, u64), DecodeError> {
        let mut blocks = Vec::new();
        let lines = decode(
            object,
            skip,
            block_bytes,
            |b| {
                blocks.push(b);
                true
            },
            || true,
        )?;
        Ok((blocks, lines))
    }

    fn text(blocks: &[Block]) -> String {
        blocks
            .iter()
            .map(|b| String::from_utf8(b.text.clone()).unwrap())
            .collect()
    }

    #[test]
    fn blocks_hold_whole_lines_numbered_from_one() {
        let file: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let (blocks, lines) = blocks(&gzip(file.as_bytes()), 0, 64).unwrap();
        assert_eq!(lines, 100);
        assert!(blocks.len() > 5);
        assert_eq!(text(&blocks), file);
        for block in &blocks {
            assert!(block.text.ends_with(b"\n"));
            let first = String::from_utf8_lossy(&block.text)
                .lines()
                .next()
                .unwrap()
                .to_owned();
            assert_eq!(first, format!("line {}", block.first_line));
        }
    }

    #[test]
    fn skips_the_lines_already_loaded() {
        let file: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        for skip in [0, 1, 3, 9, 10, 11] {
            let (blocks, lines) = blocks(&gzip(file.as_bytes()), skip, 8).unwrap();
            assert_eq!(lines, 10);
            let expected: String = (skip + 1..=10).map(|i| format!("l{i}\n")).collect();
            assert_eq!(text(&blocks), expected, "skip {skip}");
            if let Some(first) = blocks.first() {
                assert_eq!(first.first_line, skip + 1);
            }
        }
    }

    #[test]
    fn a_last_line_without_newline_and_several_gzip_members_are_read() {
        let mut object = gzip(b"a\nb\n");
        object.extend(gzip(b"c\nd"));
        let (blocks, lines) = blocks(&object, 0, 1 << 20).unwrap();
        assert_eq!(lines, 4);
        assert_eq!(text(&blocks), "a\nb\nc\nd");
    }

    #[test]
    fn empty_partitions_are_zero_byte_or_empty_gzip_objects() {
        assert_eq!(blocks(b"", 0, 64).unwrap(), (vec![], 0));
        assert_eq!(blocks(&gzip(b""), 0, 64).unwrap(), (vec![], 0));
    }

    /// Every block passed on, and how decoding ended.
    fn decoded(object: &[u8], block_bytes: usize) -> (Vec<Block>, Result<u64, DecodeError>) {
        let mut blocks = Vec::new();
        let end = decode(
            object,
            0,
            block_bytes,
            |b| {
                blocks.push(b);
                true
            },
            || true,
        );
        (blocks, end)
    }

    #[test]
    fn a_truncated_object_passes_on_every_line_decoded_before_the_error_naming_it() {
        let file: String = (1..=100_000).map(|i| format!("line {i}\n")).collect();
        let object = gzip(file.as_bytes());
        for block_bytes in [64, 1 << 20, 8 << 20] {
            let (blocks, end) = decoded(&object[..object.len() - 64], block_bytes);
            let err = end.unwrap_err();
            let DecodeError::Gzip { after_line, .. } = err else {
                panic!("{err}")
            };
            let text = text(&blocks);
            assert!(
                file.starts_with(&text) && !text.is_empty(),
                "a prefix of the file"
            );
            // The incomplete last line is passed on too (to be dead-lettered), and counted.
            assert_eq!(after_line, count_lines(text.as_bytes()));
            assert!(after_line > 99_000, "{after_line}");
        }
        let err = blocks(b"{\"Item\":{}}\n", 0, 64).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not a complete gzip file (after line 0)"),
            "{err}"
        );
    }

    #[test]
    fn a_line_without_end_is_an_error_not_unbounded_memory() {
        let object = gzip(&vec![b'x'; MAX_LINE + (1 << 20)]);
        let (blocks, end) = decoded(&object, 1 << 20);
        assert!(blocks.is_empty());
        assert_eq!(
            end.unwrap_err().to_string(),
            format!("line 1 is longer than {MAX_LINE} bytes: not a DynamoDB export data file")
        );
    }

    #[test]
    fn decoding_stops_when_nobody_takes_blocks_any_more() {
        let file: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        let end = decode(&gzip(file.as_bytes())[..], 999, 64, |_| true, || false);
        assert!(matches!(end, Err(DecodeError::Stopped)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_md5_covers_the_object_as_stored() {
        let object = gzip(b"x\ny\n");
        let (tx, rx) = mpsc::channel(4);
        let (mut received, handle) = spawn(rx, 0, 1 << 20);
        for part in object.chunks(5) {
            tx.send(Ok(Bytes::copy_from_slice(part))).await.unwrap();
        }
        drop(tx);
        assert_eq!(received.recv().await.unwrap().text, b"x\ny\n");
        let totals = handle.await.unwrap().unwrap();
        assert_eq!(totals.lines, 2);
        assert_eq!(totals.md5, <[u8; 16]>::from(Md5::digest(&object)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_download_is_told_from_bad_gzip() {
        let (tx, rx) = mpsc::channel(4);
        let (_received, handle) = spawn(rx, 0, 1 << 20);
        tx.send(Err("connection reset".into())).await.unwrap();
        drop(tx);
        let err = handle.await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "reading the object failed after line 0: connection reset"
        );
    }
}
