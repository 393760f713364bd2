//! Waiting between attempts at what a call partly failed (unprocessed items, per-entry errors,
//! a refused request): exponential backoff with full jitter, never past the stop instant.

use std::time::Duration;

use tokio::time::{sleep, Instant};

/// The waits of one retry loop.
pub struct Backoff {
    attempt: u32,
    base: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempt: 0,
            base: Duration::from_millis(50),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// Waits before the next attempt; `false` (without waiting) if that wait would reach
    /// `deadline`, when the caller must report what is left as failed.
    pub async fn wait(&mut self, deadline: Instant) -> bool {
        let cap = self
            .base
            .saturating_mul(1 << self.attempt.min(16))
            .min(self.max);
        let delay = cap.mul_f64(fastrand::f64());
        self.attempt += 1;
        if Instant::now() + delay >= deadline {
            return false;
        }
        sleep(delay).await;
        true
    }
}
