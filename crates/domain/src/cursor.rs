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

/// Where an unfinished read of a channel's orders stands, committed with
/// each page it stores: the window it reads (`since`), the channel's token
/// for its next page, the newest `updated_at` stored so far, and when the
/// read began. A round cut short (a crash, a failed page, the page limit)
/// goes on from the token instead of reading the window again: a crash
/// costs at most the page that was in flight. A channel that sorts by
/// `updated_at` with keyset pages (Shopify's `sortKey: UPDATED_AT` and
/// `after:` cursors) resumes exactly after `(updated_at, id)` of the last
/// page stored; a channel that pages by offset in id order resumes at the
/// same offset of the same list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// The lower bound of the window being read.
    pub since: DateTime<Utc>,
    /// The channel's token for the next page.
    pub page: String,
    /// The newest `updated_at` among the orders stored so far.
    pub newest: Option<DateTime<Utc>>,
    /// When the read began.
    pub started: DateTime<Utc>,
}

impl ResumePoint {
    /// The cursor once a read that was resumed from here has stored its
    /// last page, given the newest `updated_at` it stored overall: never
    /// past the moment the read began. Pages before the token were read
    /// before the read was cut short, and a channel listing in id order
    /// keeps an order changed since in its old place: it must be read
    /// again by the next round, whose window reaches back to here.
    #[must_use]
    pub fn finished(&self, newest: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        newest.max(self.newest).map(|t| t.min(self.started))
    }
}

/// What storing a page does to its channel's import position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CursorMove {
    /// Nothing: the page is not part of the channel's advancing read
    /// (notified orders, an import asked for now, a sweep, a backfill).
    #[default]
    Stay,
    /// The read goes on from here.
    Resume(ResumePoint),
    /// The read is done: the cursor moves to this time if it is newer, and
    /// the resume point (if any) is cleared.
    Finish(Option<DateTime<Utc>>),
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
    fn a_resumed_read_never_moves_the_cursor_past_its_start() {
        let p = ResumePoint {
            since: t("2026-11-22T09:58:00Z"),
            page: "200".into(),
            newest: Some(t("2026-11-22T09:59:00Z")),
            started: t("2026-11-22T10:00:00Z"),
        };
        // Orders changed while the read was cut short were seen after its
        // start: the cursor stays at the start, and the next round reads them.
        assert_eq!(
            p.finished(Some(t("2026-11-22T13:00:00Z"))),
            Some(t("2026-11-22T10:00:00Z"))
        );
        // The pages after the resume point were older than those before it.
        assert_eq!(
            p.finished(Some(t("2026-11-22T09:30:00Z"))),
            Some(t("2026-11-22T09:59:00Z"))
        );
        assert_eq!(p.finished(None), Some(t("2026-11-22T09:59:00Z")));
        let empty = ResumePoint { newest: None, ..p };
        assert_eq!(empty.finished(None), None);
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
