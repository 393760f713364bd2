//! `document_version`: the rule (see the crate docs for why it converges).

/// How far below the export time export items are versioned by default: DynamoDB rounds
/// `ApproximateCreationDateTime` down to the second, and the margin also absorbs clock skew
/// between the stream and the export. A larger margin is always safe (see the crate docs).
pub const DEFAULT_EXPORT_MARGIN_MS: i64 = 60_000;

/// A stream record's version: its `ApproximateCreationDateTime` in milliseconds.
pub fn stream_version(timestamp_ms: i64) -> i64 {
    timestamp_ms
}

/// An export item's version: the export time minus the margin.
pub fn export_version(export_time_ms: i64, margin_ms: i64) -> i64 {
    export_time_ms.saturating_sub(margin_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change the export may not contain happened after the export time T; DynamoDB stamps it
    /// with T rounded down to the second at worst, which must still beat the export's version.
    #[test]
    fn export_items_lose_to_every_change_made_after_the_export_time() {
        let export_time_ms = 1_795_278_192_999; // T, just before a second boundary
        let earliest_later_change = (export_time_ms / 1000) * 1000; // floor(T) in ms
        assert!(
            export_version(export_time_ms, DEFAULT_EXPORT_MARGIN_MS)
                < stream_version(earliest_later_change)
        );
        // and a margin smaller than the rounding would not be enough
        assert!(export_version(export_time_ms, 0) >= stream_version(earliest_later_change));
    }

    #[test]
    fn stream_versions_follow_time() {
        assert!(stream_version(1_000) <= stream_version(1_000));
        assert!(stream_version(1_000) < stream_version(2_000));
    }
}
