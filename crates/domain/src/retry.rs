//! When to try again after a failure: the one retry policy of the workers
//! (import rounds, jobs, stock pushes, fulfilment syncs, back-office steps,
//! plugin and webhook deliveries) and of the connectors' HTTP attempts.
//!
//! A policy either doubles from a first wait up to a cap, or follows a
//! fixed schedule (the Standard Webhooks one); every wait may be spread by
//! a random fraction (jitter), and a policy may give up after a number of
//! attempts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A retry schedule, with jitter and a cap. Built from configuration
/// (`[engine.retry.*]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Wait after the first failure, in milliseconds; it doubles with every
    /// further failure. Ignored when `steps_ms` is set.
    #[serde(default)]
    pub first_ms: u64,
    /// Longest wait, in milliseconds.
    pub cap_ms: u64,
    /// Waits after the 1st, 2nd, … failure, in milliseconds, instead of
    /// doubling; the policy gives up after the last one.
    #[serde(default)]
    pub steps_ms: Vec<u64>,
    /// Fraction of each wait drawn at random either way: 0.2 spreads a
    /// 10 s wait over 8–12 s, so retries of many items do not come back in
    /// one burst.
    #[serde(default)]
    pub jitter: f64,
    /// Attempts in all, the first included, before giving up; none means
    /// retrying for as long as the failure lasts.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl RetryPolicy {
    /// Doubling from `first`, at most `cap`, no jitter, without end.
    #[must_use]
    pub fn doubling(first: Duration, cap: Duration) -> Self {
        Self {
            first_ms: millis(first),
            cap_ms: millis(cap),
            steps_ms: Vec::new(),
            jitter: 0.0,
            max_attempts: None,
        }
    }

    /// The waits of `steps`, in order, then no more attempts.
    #[must_use]
    pub fn steps(steps: &[Duration]) -> Self {
        let steps_ms: Vec<u64> = steps.iter().map(|d| millis(*d)).collect();
        Self {
            first_ms: 0,
            cap_ms: steps_ms.iter().copied().max().unwrap_or(0),
            steps_ms,
            jitter: 0.0,
            max_attempts: None,
        }
    }

    /// This policy with each wait spread by `fraction` either way.
    #[must_use]
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// This policy giving up after `attempts` attempts in all.
    #[must_use]
    pub fn giving_up_after(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// The wait after `failures` failed attempts in a row (1 after the
    /// first), before jitter; `None` when no attempt follows. Zero failures
    /// wait nothing.
    #[must_use]
    pub fn base(&self, failures: u32) -> Option<Duration> {
        if failures == 0 {
            return Some(Duration::ZERO);
        }
        if self.max_attempts.is_some_and(|max| failures >= max) {
            return None;
        }
        let ms = if self.steps_ms.is_empty() {
            let doublings = (failures - 1).min(40);
            self.first_ms.saturating_mul(1u64 << doublings)
        } else {
            *self.steps_ms.get(failures as usize - 1)?
        };
        Some(Duration::from_millis(ms.min(self.cap_ms)))
    }

    /// The wait after `failures` failures, jittered with `unit` (a random
    /// number in `[0, 1)`); `None` when no attempt follows.
    #[must_use]
    pub fn delay(&self, failures: u32, unit: f64) -> Option<Duration> {
        let base = self.base(failures)?;
        let spread = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - spread + 2.0 * spread * unit.clamp(0.0, 1.0);
        Some(base.mul_f64(factor))
    }

    /// [`delay`](Self::delay) as a chrono duration (the workers' clock).
    #[must_use]
    pub fn wait(&self, failures: u32, unit: f64) -> Option<chrono::Duration> {
        self.delay(failures, unit)
            .map(|d| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX))
    }

    /// Whether the settings make sense: a cap, waits that fit it, jitter
    /// within `[0, 1)`. The message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.cap_ms == 0 {
            return Err("cap_ms must be above 0".into());
        }
        if self.steps_ms.is_empty() && self.first_ms == 0 {
            return Err("first_ms must be above 0 (or steps_ms given)".into());
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(format!("jitter must be in [0, 1), not {}", self.jitter));
        }
        if self.max_attempts == Some(0) {
            return Err("max_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// Milliseconds of `d`, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A failure count from a stored attempt counter (never negative).
#[must_use]
pub fn failures(count: i64) -> u32 {
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubling_starts_at_first_and_stops_at_cap() {
        let p = RetryPolicy::doubling(secs(2), secs(300));
        let waits: Vec<u64> = (1..=10)
            .map(|f| p.base(f).map_or(0, |d| d.as_secs()))
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(p.base(0), Some(Duration::ZERO));
        assert_eq!(p.base(u32::MAX), Some(secs(300)), "no overflow");
    }

    #[test]
    fn steps_follow_the_schedule_then_give_up() {
        let p = RetryPolicy::steps(&[secs(5), secs(300), secs(1800)]);
        assert_eq!(p.base(1), Some(secs(5)));
        assert_eq!(p.base(3), Some(secs(1800)));
        assert_eq!(p.base(4), None);
    }

    #[test]
    fn giving_up_counts_attempts_in_all() {
        let p = RetryPolicy::doubling(secs(5), secs(60)).giving_up_after(3);
        assert!(p.base(2).is_some(), "a third attempt follows two failures");
        assert_eq!(p.base(3), None, "no fourth attempt");
    }

    #[test]
    fn bad_settings_are_named() {
        let mut p = RetryPolicy::doubling(secs(1), secs(2));
        assert!(p.check().is_ok());
        p.jitter = 1.5;
        assert!(p.check().unwrap_err().contains("jitter"));
        p.jitter = 0.0;
        p.cap_ms = 0;
        assert!(p.check().unwrap_err().contains("cap_ms"));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_fraction(failures in 1u32..30, unit in 0.0f64..1.0, jitter in 0.0f64..0.9) {
            let p = RetryPolicy::doubling(secs(3), secs(3600)).with_jitter(jitter);
            let base = p.base(failures).unwrap().as_secs_f64();
            let got = p.delay(failures, unit).unwrap().as_secs_f64();
            prop_assert!(got >= base * (1.0 - jitter) - 1e-6);
            prop_assert!(got <= base * (1.0 + jitter) + 1e-6);
        }

        #[test]
        fn waits_never_shrink_as_failures_grow(failures in 1u32..60) {
            let p = RetryPolicy::doubling(Duration::from_millis(250), secs(30));
            prop_assert!(p.base(failures + 1) >= p.base(failures));
        }
    }
}
