//! Import cursors: how far a channel's orders have been read, in UTC.
//!
//! A fetch asks for orders updated since `cursor − overlap`, so an order
//! changed while the previous fetch was paging (or stamped by a channel clock
//! slightly behind ours) is read again instead of skipped. Orders read twice
//! are harmless: the upsert by `(channel, channel_order_id)` removes them.
//! The cursor advances to the newest `updated_at` actually committed, never
//! to "now", so nothing the channel had not yet shown us is skipped.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Default overlap between consecutive fetches.
pub const DEFAULT_OVERLAP: Duration = Duration::minutes(2);

/// How far a channel's orders have been imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImportCursor {
    /// The newest `updated_at` among committed orders.
    pub updated_at: DateTime<Utc>,
}

impl ImportCursor {
    /// The lower bound for the next fetch: the cursor minus the overlap.
    #[must_use]
    pub fn fetch_since(&self, overlap: Duration) -> DateTime<Utc> {
        self.updated_at - overlap
    }

    /// The cursor after committing orders with these `updated_at` times:
    /// the newest of them, never moving backwards.
    #[must_use]
    pub fn advanced(self, committed: impl IntoIterator<Item = DateTime<Utc>>) -> Self {
        let newest = committed.into_iter().max();
        match newest {
            Some(t) if t > self.updated_at => Self { updated_at: t },
            _ => self,
        }
    }
}

/// The share of its cadence by which a channel's next scheduled round may
/// start early, at random: channels set up together (an onboarding, a
/// restart) then drift apart instead of all sweeping their overlap at the
/// same moment, which is when notified orders waited longest.
pub const ROUND_SPREAD: f64 = 0.1;

/// When the next scheduled round of a channel starts, after a round that
/// started at `started` and succeeded; `unit` is a random number in
/// `[0, 1)`. Never later than one cadence, never earlier than
/// `1 − ROUND_SPREAD` of it.
#[must_use]
pub fn next_round(started: DateTime<Utc>, cadence: Duration, unit: f64) -> DateTime<Utc> {
    let early_ms = cadence.num_milliseconds() as f64 * ROUND_SPREAD * unit.clamp(0.0, 1.0);
    started + cadence - Duration::milliseconds(early_ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fetches_overlap_the_previous_window() {
        let c = ImportCursor {
            updated_at: t("2026-11-22T10:00:00Z"),
        };
        assert_eq!(c.fetch_since(DEFAULT_OVERLAP), t("2026-11-22T09:58:00Z"));
    }

    #[test]
    fn the_cursor_moves_to_the_newest_committed_order_and_never_back() {
        let c = ImportCursor {
            updated_at: t("2026-11-22T10:00:00Z"),
        };
        let c2 = c.advanced([t("2026-11-22T10:05:00Z"), t("2026-11-22T10:03:00Z")]);
        assert_eq!(c2.updated_at, t("2026-11-22T10:05:00Z"));
        assert_eq!(
            c2.advanced([t("2026-11-22T09:59:00Z")]),
            c2,
            "re-read older orders do not move it back"
        );
        assert_eq!(c2.advanced([]), c2);
    }

    #[test]
    fn the_next_round_comes_within_the_last_tenth_of_the_cadence() {
        let started = Utc::now();
        let cadence = Duration::seconds(60);
        assert_eq!(next_round(started, cadence, 0.0), started + cadence);
        let earliest = next_round(started, cadence, 0.999_999);
        assert!(earliest >= started + Duration::seconds(54), "{earliest}");
        assert!(earliest <= started + Duration::milliseconds(54_001));
        // Out-of-range randomness is clamped.
        assert_eq!(
            next_round(started, cadence, 7.0),
            started + Duration::seconds(54)
        );
    }
}
