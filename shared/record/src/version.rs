//! `document_version`: the rule (see the crate docs for why it converges).

/// How far below the export time export items are versioned by default: DynamoDB rounds
/// `ApproximateCreationDateTime` down to the second, and the margin also absorbs clock skew
/// between the stream and the export. A larger margin is always safe (see the crate docs);
/// it must exceed one second plus that skew.
pub const DEFAULT_EXPORT_MARGIN_MS: i64 = 60_000;

/// A stream record's version: its `ApproximateCreationDateTime` in milliseconds.
pub fn stream_version(timestamp_ms: i64) -> i64 {
    timestamp_ms
}

/// An export item's version: the export time minus the margin.
pub fn export_version(export_time_ms: i64, margin_ms: i64) -> i64 {
    export_time_ms.saturating_sub(margin_ms)
}

/// The version of an incremental export line written at `write_ms`, from the export of the
/// window `[from_ms, to_ms)`:
///
/// `max(min(floor_to_second(write_ms), to_ms) − margin, export_version(from_ms, margin) + 1)`
///
/// * every later stream change of the item outranks it: DynamoDB stamps such a change with at
///   least the write time rounded down to the second, and the margin (over a second) keeps
///   even the `+ 1` term below that;
/// * it outranks the export made at `from_ms` (the full export or the window before), even
///   when the write falls in the same second as `from_ms`;
/// * the cap at `to_ms` keeps a write time past the window (which AWS should never write)
///   from outranking the next window's lines, which all start above `to_ms − margin`.
///
/// The crate docs argue why this converges.
pub fn incremental_version(write_ms: i64, from_ms: i64, to_ms: i64, margin_ms: i64) -> i64 {
    let written = floor_to_second(write_ms)
        .min(to_ms)
        .saturating_sub(margin_ms);
    written.max(export_version(from_ms, margin_ms).saturating_add(1))
}

/// DynamoDB's `ApproximateCreationDateTime` has whole seconds: the earliest stamp a change
/// made at `ms` can carry.
fn floor_to_second(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: i64 = DEFAULT_EXPORT_MARGIN_MS;
    /// 2026-11-21T12:00:00.000Z
    const NOON: i64 = 1_795_276_800_000;

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

    /// A line written at 12:00:00.700; the next change at 12:00:00.900 is stamped 12:00:00.
    /// Versioned by its exact write time, the line would beat that later change.
    #[test]
    fn a_later_stream_change_in_the_same_second_outranks_the_line() {
        let (from, to) = (NOON - 3_600_000, NOON + 3_600_000);
        let line = incremental_version(NOON + 700, from, to, MARGIN);
        let later_change = stream_version(NOON); // made at NOON + 900
        assert!(line < later_change);
        assert!(NOON + 700 >= later_change, "the naive rule would not hold");
        // Even when the write is the first thing in the window.
        let line = incremental_version(from + 1, from, to, MARGIN);
        assert!(line < stream_version(floor_to_second(from + 1)));
    }

    /// The window starts at the previous export's time, which may have a millisecond fraction;
    /// a write in that same second must still outrank the previous export's items.
    #[test]
    fn the_line_outranks_the_export_made_at_the_start_of_its_window() {
        let from = NOON + 500;
        let line = incremental_version(NOON + 700, from, from + 3_600_000, MARGIN);
        assert!(line > export_version(from, MARGIN));
        assert!(
            floor_to_second(NOON + 700) - MARGIN < export_version(from, MARGIN),
            "the write time rounded down alone would not outrank it"
        );
    }

    /// Chained windows: the second starts where the first ends. The last write of the first
    /// window and the first of the second fall in the same second.
    #[test]
    fn chained_windows_order_their_lines() {
        let (t0, t1, t2) = (NOON - 3_600_000 + 250, NOON + 250, NOON + 3_600_000 + 250);
        let first = incremental_version(t1 - 1, t0, t1, MARGIN);
        let second = incremental_version(t1, t1, t2, MARGIN);
        assert!(second > first);
        assert_eq!(
            floor_to_second(t1 - 1),
            floor_to_second(t1),
            "rounding alone would tie them"
        );
        // And both outrank the full export the chain started from.
        assert!(first > export_version(t0, MARGIN));
        // A full export made at the end of the chain outranks both.
        assert!(export_version(t2, MARGIN) > second);
    }

    #[test]
    fn a_write_time_past_the_window_cannot_outrank_the_next_window() {
        let (from, to) = (NOON, NOON + 900_000);
        let stray = incremental_version(to + 3_600_000, from, to, MARGIN);
        assert!(stray <= export_version(to, MARGIN));
        assert!(stray < incremental_version(to, to, to + 900_000, MARGIN));
        // One before the window still outranks the export the window starts from.
        assert!(
            incremental_version(from - 3_600_000, from, to, MARGIN) > export_version(from, MARGIN)
        );
    }

    #[test]
    fn writes_further_apart_than_the_margin_keep_their_order() {
        let (from, to) = (NOON, NOON + 3_600_000);
        let early = incremental_version(NOON + 1_000, from, to, MARGIN);
        let late = incremental_version(NOON + 1_000 + 2 * MARGIN, from, to, MARGIN);
        assert!(late > early);
        assert_eq!(late, floor_to_second(NOON + 1_000 + 2 * MARGIN) - MARGIN);
    }
}
