//! What a verification found, as text for people or JSON for scripts. Keys and attribute names
//! only, never attribute values: item data must not end up in logs.

use std::fmt::Write as _;

use serde::Serialize;

/// Keys of one category: how many, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyList {
    /// How many keys are in the category.
    pub count: u64,
    /// The first keys found, at most `--examples` of them.
    pub examples: Vec<String>,
}

/// An item that differs: its key and the names of the attributes that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The item's key, rendered as the change record's `primary_key`.
    pub key: String,
    /// Sorted. Empty when the target's copy changed or vanished between the scan and the
    /// closer look (the sink is still writing).
    pub attributes: Vec<String>,
}

/// Items that differ: how many, and the first few with the attributes that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Differences {
    /// How many items differ.
    pub count: u64,
    /// The first ones found, at most `--examples` of them.
    pub examples: Vec<Difference>,
}

/// One comparison's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Source items whose target copy is equal.
    pub equal_items: u64,
    /// In the source, not live in the target.
    pub missing: KeyList,
    /// Live in the target, not in the source.
    pub extra: KeyList,
    /// Same key, other attributes.
    pub different: Differences,
    /// Target items read twice under one key (a scan that saw an item move; 0 normally).
    pub duplicate_target_keys: u64,
}

impl Outcome {
    /// Whether nothing is missing, extra or different.
    pub fn is_equal(&self) -> bool {
        self.missing.count == 0 && self.extra.count == 0 && self.different.count == 0
    }
}

/// What was compared with the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A table written by the `dynamodb://` sink.
    Dynamodb {
        /// The replica table.
        table: String,
        /// `replica` or `batch`.
        mode: &'static str,
        /// Live items (tombstones not counted).
        live_items: u64,
        /// Tombstones read (always 0 in batch mode).
        tombstones: u64,
    },
    /// An index written by the `opensearch://` sink.
    Opensearch {
        /// `scheme://host:port/index`.
        index: String,
        /// Documents read from the index.
        documents: u64,
    },
}

/// One target and how it compares with the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// What was compared.
    #[serde(flatten)]
    pub target: Target,
    /// What the comparison found.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of a whole run: the source and every target's comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every target equal to the source.
    pub equal: bool,
    /// The source table.
    pub source_table: String,
    /// Items scanned in the source.
    pub source_items: u64,
    /// One report per target, the replica first.
    pub targets: Vec<TargetReport>,
}

impl Report {
    /// The report of these targets; `equal` is computed from their outcomes.
    pub fn new(source_table: String, source_items: u64, targets: Vec<TargetReport>) -> Self {
        Report {
            equal: targets.iter().all(|t| t.outcome.is_equal()),
            source_table,
            source_items,
            targets,
        }
    }

    /// One JSON object (pretty-printed).
    pub fn to_json(&self) -> String {
        // Plain strings and numbers only: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Lines for people; keys are written as JSON strings, so control characters in keys
    /// cannot break the layout.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "source {}: {} items",
            quoted(&self.source_table),
            self.source_items
        );
        for target in &self.targets {
            match &target.target {
                Target::Dynamodb {
                    table,
                    mode,
                    live_items,
                    tombstones,
                } => {
                    let _ = writeln!(
                        out,
                        "replica {} (mode {mode}): {live_items} live items, {tombstones} tombstones",
                        quoted(table)
                    );
                }
                Target::Opensearch { index, documents } => {
                    let _ = writeln!(out, "index {}: {documents} documents", quoted(index));
                }
            }
            write_outcome(&mut out, &target.outcome);
        }
        let _ = writeln!(
            out,
            "result: {}",
            if self.equal { "EQUAL" } else { "DIFFERENT" }
        );
        out
    }
}

fn write_outcome(out: &mut String, outcome: &Outcome) {
    let _ = writeln!(out, "  equal:     {}", outcome.equal_items);
    let _ = writeln!(
        out,
        "  missing:   {} (in the source, not live in the target)",
        outcome.missing.count
    );
    write_more(out, &outcome.missing.examples, outcome.missing.count);
    let _ = writeln!(
        out,
        "  extra:     {} (live in the target, not in the source)",
        outcome.extra.count
    );
    write_more(out, &outcome.extra.examples, outcome.extra.count);
    let _ = writeln!(
        out,
        "  different: {} (same key, other attributes)",
        outcome.different.count
    );
    for example in &outcome.different.examples {
        let names: Vec<String> = example.attributes.iter().map(|a| quoted(a)).collect();
        let names = if names.is_empty() {
            "(changed again since the scan)".to_owned()
        } else {
            names.join(", ")
        };
        let _ = writeln!(out, "    {}: {names}", quoted(&example.key));
    }
    let shown = outcome.different.examples.len() as u64;
    if outcome.different.count > shown {
        let _ = writeln!(out, "    ... and {} more", outcome.different.count - shown);
    }
    if outcome.duplicate_target_keys > 0 {
        let _ = writeln!(
            out,
            "  (the target listed {} keys twice: it changed during the scan)",
            outcome.duplicate_target_keys
        );
    }
}

fn write_more(out: &mut String, examples: &[String], count: u64) {
    for key in examples {
        let _ = writeln!(out, "    {}", quoted(key));
    }
    let shown = examples.len() as u64;
    if count > shown {
        let _ = writeln!(out, "    ... and {} more", count - shown);
    }
}

fn quoted(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    cdc_record::write_json_string(&mut out, text);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let outcome = Outcome {
            equal_items: 3,
            missing: KeyList {
                count: 2,
                examples: vec!["a\nb".into()],
            },
            extra: KeyList::default(),
            different: Differences {
                count: 1,
                examples: vec![Difference {
                    key: "k|1".into(),
                    attributes: vec!["price".into(), "tags".into()],
                }],
            },
            duplicate_target_keys: 0,
        };
        Report::new(
            "orders".into(),
            6,
            vec![TargetReport {
                target: Target::Dynamodb {
                    table: "orders-replica".into(),
                    mode: "replica",
                    live_items: 4,
                    tombstones: 1,
                },
                outcome,
            }],
        )
    }

    #[test]
    fn text_names_keys_and_attributes_escaped() {
        let text = report().to_text();
        assert!(text.contains("missing:   2"), "{text}");
        assert!(text.contains(r#""a\nb""#), "{text}");
        assert!(text.contains("... and 1 more"), "{text}");
        assert!(text.contains(r#""k|1": "price", "tags""#), "{text}");
        assert!(text.ends_with("result: DIFFERENT\n"), "{text}");
    }

    #[test]
    fn json_has_counts_examples_and_the_target() {
        let json: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(json["equal"], false);
        assert_eq!(json["targets"][0]["kind"], "dynamodb");
        assert_eq!(json["targets"][0]["tombstones"], 1);
        assert_eq!(json["targets"][0]["missing"]["count"], 2);
        assert_eq!(
            json["targets"][0]["different"]["examples"][0]["attributes"][1],
            "tags"
        );
    }
}
