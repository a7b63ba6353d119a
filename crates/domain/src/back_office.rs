//! The back-office order connection's rules: a store's back-office
//! settings, where an order stands there, and which hand-overs people may
//! make (resend it, handle it by hand). Storage applies what these decide.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::ChannelId;
use crate::order::OrderState;

/// A store's back office: the webshop its marketplace orders are created in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackOfficeSettings {
    /// The back-office channel (a channel of the same store).
    pub channel_id: ChannelId,
    /// How often sent orders are read back, in seconds (60 to 86,400).
    pub check_interval_secs: i64,
    /// How long an order completed without track and trace waits before it
    /// counts as shipped without it, in seconds (0 to 30 days).
    pub ship_without_tracking_after_secs: i64,
    /// Orders first imported before this are not sent.
    pub since: DateTime<Utc>,
}

/// Default read-back cadence: 5 minutes.
pub const DEFAULT_BACK_OFFICE_CHECK_SECS: i64 = 300;
/// Default wait before "shipped without track and trace": 3 hours.
pub const DEFAULT_SHIP_WITHOUT_TRACKING_SECS: i64 = 3 * 3600;

/// Where an order stands in the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackOfficeState {
    /// To be created in the back office.
    Pending,
    /// Creating it failed; retried with backoff, or resend / handle manually.
    Failed,
    /// Someone handles it by hand; Switchyard leaves it alone.
    Manual,
    /// Created; not shipped yet.
    NotShipped,
    /// Completed in the back office without track and trace yet.
    Waiting,
    /// Shipped: a fulfilment was recorded.
    Shipped,
    /// Cancelled (either side).
    Cancelled,
}

impl BackOfficeState {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Manual => "manual",
            Self::NotShipped => "not_shipped",
            Self::Waiting => "waiting",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Failed,
            Self::Manual,
            Self::NotShipped,
            Self::Waiting,
            Self::Shipped,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl BackOfficeSettings {
    /// Check the intervals.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(60..=86_400).contains(&self.check_interval_secs) {
            return Err(DomainError::invalid(
                "invalid_interval",
                "check_interval_secs",
                "the check interval is 60 to 86400 seconds",
            ));
        }
        if !(0..=30 * 86_400).contains(&self.ship_without_tracking_after_secs) {
            return Err(DomainError::invalid(
                "invalid_interval",
                "ship_without_tracking_after_secs",
                "the wait for track and trace is 0 to 2592000 seconds (30 days)",
            ));
        }
        Ok(())
    }

    /// The settings to store: `self`, its `since` kept from `before` when
    /// the back office stays the same channel, else starting `now` (orders
    /// imported before a back office is named are not sent).
    #[must_use]
    pub fn replacing(mut self, before: Option<&Self>, now: DateTime<Utc>) -> Self {
        self.since = match before {
            Some(b) if b.channel_id == self.channel_id => b.since,
            _ => now,
        };
        self
    }
}

/// A hand-over people ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// Send it to the back office again.
    Resend,
    /// Leave it to someone handling it by hand.
    Manual,
}

/// The state an order in the back office in `state` goes to on `handover`
/// (and whether the order is then handled by hand), or why it may not.
/// The refusal is a conflict with the order as it stands.
pub fn plan_handover(
    state: BackOfficeState,
    handover: Handover,
) -> Result<(BackOfficeState, bool), DomainError> {
    use BackOfficeState::{Failed, Manual, Pending};
    let (from, to, code, says): (&[BackOfficeState], _, _, _) = match handover {
        Handover::Resend => (
            &[Failed, Manual],
            Pending,
            "not_resendable",
            "only failed or manual back-office orders can be resent; this one is",
        ),
        Handover::Manual => (
            &[Pending, Failed, Manual],
            Manual,
            "already_sent",
            "the order is in the back office already; handle it there. Its state is",
        ),
    };
    if !from.contains(&state) {
        return Err(DomainError {
            code,
            message: format!("{says} `{}`", state.as_str()),
            field: None,
        });
    }
    Ok((to, to != Pending))
}

/// Whether an order cancelled in the back office is cancelled here: unless
/// it is cancelled already or has shipped.
#[must_use]
pub fn cancel_here(state: OrderState) -> bool {
    !matches!(state, OrderState::Cancelled | OrderState::Fulfilled)
}

/// What a back-office step found, as far as it decides anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// Created in the back office.
    Sent,
    /// Creating it failed.
    SendFailed,
    /// Read back; its remote status is now this.
    Unchanged {
        /// The back office's status now.
        remote_status: &'a str,
    },
    /// Completed there without track and trace.
    Waiting,
    /// Shipped there.
    Shipped,
    /// Cancelled there.
    CancelledThere,
    /// Cancelled here, and there too.
    CancelledHere,
    /// Reading it back failed.
    CheckFailed,
    /// Cancelling the marketplace order went this way.
    ChannelCancel,
}

/// The journal event a step causes, or none when it changes nothing people
/// see (a read-back with the same remote status, a wait that was known).
/// `before` is the stored state and remote status.
#[must_use]
pub fn step_event(before: (BackOfficeState, Option<&str>), step: Step<'_>) -> Option<&'static str> {
    match step {
        Step::Sent => Some("order.back_office_sent"),
        Step::SendFailed => Some("order.back_office_failed"),
        Step::Unchanged { remote_status } => {
            (before.1 != Some(remote_status)).then_some("order.updated")
        }
        Step::Waiting => {
            (before.0 != BackOfficeState::Waiting).then_some("order.back_office_waiting")
        }
        Step::Shipped => Some("order.back_office_shipped"),
        Step::CancelledThere | Step::CancelledHere => Some("order.back_office_cancelled"),
        Step::CheckFailed | Step::ChannelCancel => Some("order.updated"),
    }
}

/// Where cancelling the marketplace order stands after an order was
/// cancelled in the back office: `pending` when the channel can cancel it.
#[must_use]
pub fn channel_cancel_start(channel_can_cancel: bool) -> &'static str {
    if channel_can_cancel {
        "pending"
    } else {
        "unsupported"
    }
}

/// Where cancelling the marketplace order stands after an attempt that
/// ended in `outcome` (`done`, `unsupported`, `failed: …`): a failure to
/// retry stays `pending` with the outcome shown as the error. Returns
/// `(state, error, the marketplace's stock is to be restated)`.
#[must_use]
pub fn channel_cancel_after(outcome: String, retrying: bool) -> (String, Option<String>, bool) {
    let done = outcome == "done";
    if retrying {
        ("pending".to_owned(), Some(outcome), done)
    } else {
        (outcome, None, done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failed_or_manual_orders_are_resent_and_sent_ones_stay_with_the_back_office() {
        use BackOfficeState::*;
        assert_eq!(
            plan_handover(Failed, Handover::Resend),
            Ok((Pending, false))
        );
        assert_eq!(
            plan_handover(Manual, Handover::Resend),
            Ok((Pending, false))
        );
        assert_eq!(
            plan_handover(Shipped, Handover::Resend).map_err(|e| e.code),
            Err("not_resendable")
        );
        assert_eq!(plan_handover(Pending, Handover::Manual), Ok((Manual, true)));
        let refused = plan_handover(NotShipped, Handover::Manual).unwrap_err();
        assert_eq!(refused.code, "already_sent");
        assert!(
            refused.message.ends_with("`not_shipped`"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn steps_are_journalled_only_when_people_see_a_change() {
        use BackOfficeState::*;
        let before = (NotShipped, Some("processing"));
        assert_eq!(
            step_event(
                before,
                Step::Unchanged {
                    remote_status: "processing"
                }
            ),
            None
        );
        assert_eq!(
            step_event(
                before,
                Step::Unchanged {
                    remote_status: "on-hold"
                }
            ),
            Some("order.updated")
        );
        assert_eq!(
            step_event(before, Step::Waiting),
            Some("order.back_office_waiting")
        );
        assert_eq!(step_event((Waiting, None), Step::Waiting), None);
        assert_eq!(
            step_event(before, Step::CancelledHere),
            Some("order.back_office_cancelled")
        );
        assert_eq!(channel_cancel_start(false), "unsupported");
        assert_eq!(
            channel_cancel_after("failed: 503".into(), true),
            ("pending".into(), Some("failed: 503".into()), false)
        );
        assert_eq!(
            channel_cancel_after("done".into(), false),
            ("done".into(), None, true)
        );
    }

    #[test]
    fn shipped_or_cancelled_orders_are_not_cancelled_again() {
        assert!(cancel_here(OrderState::Open));
        assert!(cancel_here(OrderState::OnHold));
        assert!(!cancel_here(OrderState::Fulfilled));
        assert!(!cancel_here(OrderState::Cancelled));
    }
}
