//! Which export to start next for a table, and the names that make starting it idempotent.
//! Pure: times in, decisions out.

use sha2::{Digest, Sha256};

use cdc_exports::manifest::Kind;

/// DynamoDB's bounds on an incremental export's window.
pub const MIN_WINDOW_MS: i64 = 15 * 60 * 1000;
/// The longest incremental window DynamoDB takes: 24 hours.
pub const MAX_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What the next export of a table should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start an export of this kind now.
    Start(Kind),
    /// An incremental window is not ready yet: `LatestRestorableDateTime` must first reach
    /// `ready_at_ms` (15 minutes after the window's start).
    Wait {
        /// When the window can start, in ms since the epoch.
        ready_at_ms: i64,
    },
}

/// The next export: a full one at the latest restorable time when asked for or when there is
/// none yet (`last_end_ms`: where the last export's data ends), else an incremental window from
/// there, at most 24 hours (a longer gap is split: the next run continues), ending no later
/// than the latest restorable time (`latest_ms`).
pub fn next(last_end_ms: Option<i64>, latest_ms: i64, full: bool) -> Next {
    // DynamoDB takes times in whole seconds.
    let latest = latest_ms.div_euclid(1000) * 1000;
    match last_end_ms {
        Some(from_ms) if !full => {
            let to_ms = latest.min(from_ms + MAX_WINDOW_MS);
            if to_ms - from_ms < MIN_WINDOW_MS {
                Next::Wait {
                    ready_at_ms: from_ms + MIN_WINDOW_MS,
                }
            } else {
                Next::Start(Kind::Incremental { from_ms, to_ms })
            }
        }
        _ => Next::Start(Kind::Full {
            export_time_ms: latest,
        }),
    }
}

/// Where an export's data ends: its export time, or its window's end.
pub fn end_ms(kind: Kind) -> i64 {
    match kind {
        Kind::Full { export_time_ms } => export_time_ms,
        Kind::Incremental { to_ms, .. } => to_ms,
    }
}

/// The `ClientToken` of one attempt at one export of one table: the same on every retry of
/// the call (DynamoDB then starts it once, for 8 hours), another for the next attempt after a
/// failure.
pub fn client_token(table_arn: &str, kind: Kind, attempt: u32) -> String {
    let mut hash = Sha256::new();
    hash.update(table_arn.as_bytes());
    hash.update(format!("{kind:?}#{attempt}").as_bytes());
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The export's S3 prefix: it carries the token, so that an export started by a call whose
/// answer was lost can be found again after DynamoDB forgot the token.
pub fn s3_prefix(prefix: &str, table: &str, token: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{table}/{token}")
    } else {
        format!("{prefix}/{table}/{token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const T: i64 = 1_795_278_192_000;

    #[test]
    fn a_table_without_export_starts_with_a_full_one_at_the_latest_restorable_second() {
        assert_eq!(
            next(None, T + 700, false),
            Next::Start(Kind::Full { export_time_ms: T })
        );
        assert_eq!(
            next(Some(T - HOUR), T, true),
            Next::Start(Kind::Full { export_time_ms: T })
        );
    }

    #[test]
    fn incremental_windows_chain_from_the_last_export_and_are_clamped_and_split() {
        // Chained from the last export's end, up to the latest restorable time.
        assert_eq!(
            next(Some(T), T + 2 * HOUR, false),
            Next::Start(Kind::Incremental {
                from_ms: T,
                to_ms: T + 2 * HOUR
            })
        );
        // A gap over 24 hours is split: the first day now, the rest on the next run.
        assert_eq!(
            next(Some(T), T + 30 * HOUR, false),
            Next::Start(Kind::Incremental {
                from_ms: T,
                to_ms: T + 24 * HOUR
            })
        );
        // Under 15 minutes: wait.
        assert_eq!(
            next(Some(T), T + 14 * 60_000, false),
            Next::Wait {
                ready_at_ms: T + 15 * 60_000
            }
        );
        assert_eq!(
            next(Some(T), T + 15 * 60_000, false),
            Next::Start(Kind::Incremental {
                from_ms: T,
                to_ms: T + 15 * 60_000
            })
        );
    }

    #[test]
    fn tokens_are_stable_per_attempt_and_differ_between_attempts_and_exports() {
        let kind = Kind::Full { export_time_ms: T };
        let token = client_token("arn:t", kind, 1);
        assert_eq!(token, client_token("arn:t", kind, 1));
        assert_eq!(token.len(), 32);
        assert_ne!(token, client_token("arn:t", kind, 2));
        assert_ne!(token, client_token("arn:u", kind, 1));
        assert_ne!(
            token,
            client_token(
                "arn:t",
                Kind::Full {
                    export_time_ms: T + 1000
                },
                1
            )
        );
        assert_eq!(
            s3_prefix("/exports/", "orders", &token),
            format!("exports/orders/{token}")
        );
        assert_eq!(s3_prefix("", "orders", "x"), "orders/x");
    }
}
