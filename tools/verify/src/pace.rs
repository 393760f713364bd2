//! A bounded read rate shared by every read of a run (scan pages of any segment, index pages,
//! re-reads): verification runs against production tables and must not take their capacity.
//!
//! Each read reserves, before it is sent, the items it may return; reservations take
//! consecutive slots of `items / rate` seconds each, and a read waits for its slot. What a
//! page did not use is given back. So over any time from the start the items read stay within
//! `rate × elapsed` plus one page.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

/// The shared read rate of one run: every read reserves its items here first.
#[derive(Debug)]
pub struct Pacer {
    per_item: Duration,
    next: Mutex<Option<Instant>>,
    page: u32,
}

impl Pacer {
    /// `per_second` items per second (at least 1).
    pub fn new(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        Pacer {
            per_item: Duration::from_secs(1) / per_second,
            next: Mutex::new(None),
            // A quarter second's worth per page keeps the pace smooth; 1000 bounds page memory.
            page: (per_second / 4).clamp(1, 1000),
        }
    }

    /// Items per page (the `Limit` of a Scan, the `size` of a search).
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Waits until `items` more may be read.
    pub async fn reserve(&self, items: u32) {
        let slot = {
            // A poisoned lock only means another reader panicked; the schedule is still valid.
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.per_item * items);
            slot
        };
        sleep_until(slot).await;
    }

    /// Gives back `items` a read reserved but did not return.
    pub fn refund(&self, items: u32) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = *next {
            let back = self.per_item * items;
            *next = Some(n.checked_sub(back).unwrap_or(n).max(Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keeps_reads_under_the_rate() {
        let pacer = Pacer::new(100);
        assert_eq!(pacer.page(), 25);
        let start = Instant::now();
        for _ in 0..8 {
            pacer.reserve(25).await;
        }
        // 8 pages of 25 at 100/s: the 8th may start after 7 × 0.25 s.
        assert_eq!(start.elapsed(), Duration::from_millis(1750));
        // A page that returned nothing gives its time back.
        pacer.refund(25);
        let before = Instant::now();
        pacer.reserve(1).await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(Pacer::new(1).page(), 1);
        assert_eq!(Pacer::new(500).page(), 125);
        assert_eq!(Pacer::new(1_000_000).page(), 1000);
    }
}
