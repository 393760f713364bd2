//! Reading dead letters back (the lines [`super::DeadLetter::write_json_line`] writes), to
//! send their records through the sinks again once what rejected them is fixed.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A letter line, as far as redriving needs it.
#[derive(Deserialize)]
struct Letter<'a> {
    source: &'a str,
    #[serde(borrow)]
    record: &'a RawValue,
}

/// The stream records held by the letters in `text` (one letter per line), in order; and the
/// lines that hold none, each with why (naming the line, never its content).
pub fn records_to_redrive(text: &str) -> (Vec<&str>, Vec<String>) {
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (at, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = at + 1;
        match serde_json::from_str::<Letter<'_>>(line) {
            Ok(letter) if letter.source == "stream" && letter.record.get().starts_with('{') => {
                records.push(letter.record.get())
            }
            Ok(letter) if letter.source == "stream" => skipped.push(format!(
                "line {line_number}: the record was not JSON when it arrived; it cannot be redriven"
            )),
            Ok(_) => skipped.push(format!(
                "line {line_number}: an export line; load its data file again to redrive it"
            )),
            Err(_) => skipped.push(format!("line {line_number}: not a dead letter")),
        }
    }
    (records, skipped)
}

#[cfg(test)]
mod tests {
    use super::records_to_redrive;
    use crate::DeadLetter;
    use cdc_record::Source;

    #[test]
    fn letters_read_back_into_their_records() {
        let mut text = Vec::new();
        for (raw, source) in [
            (r#"{"eventName": "INSERT", "n": 1}"#, Source::Stream),
            ("not json", Source::Stream),
            (r#"{"Item": {}}"#, Source::Export),
        ] {
            DeadLetter {
                raw,
                reason: "why".into(),
                source,
                sequence_number: None,
                table_name: None,
            }
            .write_json_line(&mut text);
        }
        text.extend_from_slice(b"\n[1]\n");
        let text = String::from_utf8(text).unwrap();
        let (records, skipped) = records_to_redrive(&text);
        assert_eq!(records, vec![r#"{"eventName":"INSERT","n":1}"#]);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].starts_with("line 2: the record was not JSON"));
        assert!(skipped[1].starts_with("line 3: an export line"));
        assert!(skipped[2].starts_with("line 5: not a dead letter"));
    }
}
