//! The instant a function stops writing: Lambda's deadline less a margin, so that what was
//! written is reported before Lambda would kill the invocation with the outcome unknown.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::time::{timeout_at, Instant};

/// Lambda's longest invocation.
pub const MAX_INVOCATION: Duration = Duration::from_secs(900);

/// Deadlines before September 2001 (10^12 ms since the epoch) are durations, not times.
const NOT_A_DEADLINE_BEFORE: Duration = Duration::from_secs(1_000_000_000);

/// The instant to stop writing: `deadline` less `margin`.
pub fn stop_at(deadline: SystemTime, margin: Duration) -> Instant {
    let remaining = match deadline.duration_since(SystemTime::now()) {
        Ok(remaining) => remaining,
        // `cargo lambda watch` sends 600000, a duration, where Lambda sends epoch
        // milliseconds: keeping to it would fail every record. Any other past deadline
        // (a clock ahead) is kept: stop at once rather than be killed mid-write.
        Err(_) if deadline < UNIX_EPOCH + NOT_A_DEADLINE_BEFORE => {
            tracing::warn!(
                deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
                "the invocation's deadline is a duration, not a time (a local emulator); working to Lambda's longest invocation"
            );
            MAX_INVOCATION
        }
        Err(_) => Duration::ZERO,
    };
    // A margin as long as the invocation would stop every batch before it starts and nothing
    // would ever advance: keep at least half the time for the work.
    let margin = if margin > remaining / 2 {
        tracing::warn!(
            margin_ms = margin.as_millis() as u64,
            remaining_ms = remaining.as_millis() as u64,
            "CDC_DEADLINE_MARGIN_MS is more than half the invocation's time; using half"
        );
        remaining / 2
    } else {
        margin
    };
    Instant::now() + remaining - margin
}

/// Awaits an AWS SDK call, or any fallible call, until `stop_at`; on failure, why, with the
/// SDK's whole error chain (`deadline reached` when it ran out of time).
pub async fn bounded<T, E: std::error::Error>(
    stop_at: Instant,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match timeout_at(stop_at, call).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(DisplayErrorContext(e).to_string()),
        Err(_) => Err("deadline reached".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_margin_before_lambdas_deadline() {
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let left =
            stop_at(deadline, Duration::from_secs(2)).saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(8) && left > Duration::from_secs(7),
            "{left:?}"
        );
    }

    #[test]
    fn a_margin_over_half_the_time_left_is_halved() {
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let left =
            stop_at(deadline, Duration::from_secs(30)).saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(5) && left > Duration::from_secs(4),
            "{left:?}"
        );
    }

    #[test]
    fn a_deadline_that_is_a_duration_means_an_emulator_and_lambdas_longest_invocation() {
        // `cargo lambda watch` sends Lambda-Runtime-Deadline-Ms: 600000.
        let deadline = UNIX_EPOCH + Duration::from_millis(600_000);
        let margin = Duration::from_secs(2);
        let left = stop_at(deadline, margin).saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(890) && left <= Duration::from_secs(900),
            "{left:?}"
        );
        // A real time already past (a clock ahead): stop at once.
        let past = SystemTime::now() - Duration::from_secs(1);
        assert!(stop_at(past, margin) <= Instant::now());
    }
}
