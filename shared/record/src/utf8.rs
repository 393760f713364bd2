//! UTF-8 validation of whole payloads and export blocks, the one check every byte goes through
//! before the scanner reads it as text.
//!
//! `simdutf8` checks 32 or 64 bytes per step where the CPU can (AVX2 or SSE4.2 chosen at run
//! time on x86-64, NEON on aarch64) and falls back to the standard library's check elsewhere:
//! several times faster than `std::str::from_utf8` on non-ASCII text, which std checks byte by
//! byte (profiles of payloads with names and text in other scripts showed that check among the
//! largest costs).

/// `bytes` as text, or the standard library's error saying where it stops being UTF-8.
pub fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    // The fast check only says yes or no; std explains a no.
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std_and_keeps_its_error() {
        let samples: [&[u8]; 6] = [
            b"",
            b"plain ascii",
            "Gr\u{fc}\u{df}e \u{1f680} \u{5c71}\u{7530}".as_bytes(),
            b"bad \xff byte",
            b"cut \xe2\x82",
            b"surrogate \xed\xa0\x80",
        ];
        for bytes in samples {
            let ours = text(bytes).map_err(|e| e.to_string());
            let std = std::str::from_utf8(bytes).map_err(|e| e.to_string());
            assert_eq!(ours, std, "{bytes:?}");
        }
    }
}
