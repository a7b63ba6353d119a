//! Accounting connections: a store's link to an accounting package (Xero
//! or Sage), its settings, and the state of each document's sync.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::invoice::{MAX_RATE_BP, RateBp};

/// The accounting packages Switchyard books into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountingKind {
    /// Xero (Accounting API 2.0).
    Xero,
    /// Sage Business Cloud Accounting (v3.1).
    Sage,
}

impl AccountingKind {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Xero => "xero",
            Self::Sage => "sage",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "xero" => Ok(Self::Xero),
            "sage" => Ok(Self::Sage),
            _ => Err(DomainError::invalid(
                "invalid_kind",
                "kind",
                format!("`{s}` is not an accounting package (xero, sage)"),
            )),
        }
    }
}

/// How a buyer is found among the package's contacts, in order; a buyer
/// found by none is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactKey {
    /// The buyer's email.
    Email,
    /// The buyer's name.
    Name,
}

/// Whether documents are posted for approval or approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostAs {
    /// Approved (Xero `AUTHORISED`); credit notes are allocated to their
    /// invoice.
    #[default]
    Approved,
    /// Drafts for someone to approve in the package (Xero `DRAFT`; Sage has
    /// no drafts and posts them as usual).
    Draft,
}

/// A connection's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountingSettings {
    /// The sales account: Xero's account code (`200`), Sage's ledger
    /// account nominal code (`4000`).
    pub sales_account: String,
    /// The account shipping is booked to (the sales account when absent).
    #[serde(default)]
    pub shipping_account: Option<String>,
    /// Tax rate (basis points, as text: `"2000"`) → the package's tax
    /// code (Xero `TaxType` such as `OUTPUT2`, Sage tax rate id such as
    /// `GB_STANDARD`). Rates not named are matched by percentage.
    #[serde(default)]
    pub tax_rates: BTreeMap<String, String>,
    /// How buyers are matched to contacts, in order (default: email, then
    /// name); unmatched buyers are created.
    #[serde(default = "default_match")]
    pub contact_match: Vec<ContactKey>,
    /// Approved or drafts.
    #[serde(default)]
    pub post_as: PostAs,
}

fn default_match() -> Vec<ContactKey> {
    vec![ContactKey::Email, ContactKey::Name]
}

impl AccountingSettings {
    /// Check every field.
    pub fn validate(&self) -> Result<(), DomainError> {
        let code = |field: &str, v: &str| {
            if v.is_empty()
                || v.len() > 40
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                Err(DomainError::invalid(
                    "invalid_account",
                    field,
                    "an account code is 1–40 letters, digits, - _ or .",
                ))
            } else {
                Ok(())
            }
        };
        code("sales_account", &self.sales_account)?;
        if let Some(s) = &self.shipping_account {
            code("shipping_account", s)?;
        }
        for (rate, tax) in &self.tax_rates {
            let field = format!("tax_rates.{rate}");
            match rate.parse::<RateBp>() {
                Ok(r) if r <= MAX_RATE_BP => {}
                _ => {
                    return Err(DomainError::invalid(
                        "invalid_rate",
                        field,
                        format!(
                            "keys are rates in basis points, 0 to {MAX_RATE_BP} (\"2000\" is 20 %)"
                        ),
                    ));
                }
            }
            code(&field, tax)?;
        }
        let mut seen = Vec::new();
        for k in &self.contact_match {
            if seen.contains(k) {
                return Err(DomainError::invalid(
                    "invalid_contact_match",
                    "contact_match",
                    "name each way of matching once",
                ));
            }
            seen.push(*k);
        }
        Ok(())
    }

    /// The package's tax code for `rate`, when the settings name one.
    #[must_use]
    pub fn tax_code(&self, rate: RateBp) -> Option<&str> {
        self.tax_rates.get(&rate.to_string()).map(String::as_str)
    }
}

/// Where a document's sync to one connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AccountingSyncState)]
pub enum SyncState {
    /// Waiting to be sent (or retried).
    Pending,
    /// In the package, with its id there.
    Synced,
    /// The package refused it; waits for a person (retry by hand).
    Failed,
}

impl SyncState {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "pending" => Ok(Self::Pending),
            "synced" => Ok(Self::Synced),
            "failed" => Ok(Self::Failed),
            _ => Err(DomainError::invalid(
                "invalid_state",
                "state",
                format!("`{s}` is not a sync state (pending, synced, failed)"),
            )),
        }
    }
}

/// Attempts after which a sync that keeps failing for reasons that may
/// pass (the package away, rate limits) is shown as failed; it is still
/// retried on the schedule.
pub const SHOW_FAILED_AFTER: i64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_map_rates() {
        let s: AccountingSettings = serde_json::from_value(serde_json::json!({
            "sales_account": "200",
            "tax_rates": { "2000": "OUTPUT2" },
        }))
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.contact_match, [ContactKey::Email, ContactKey::Name]);
        assert_eq!(s.post_as, PostAs::Approved);
        assert_eq!(s.tax_code(2000), Some("OUTPUT2"));
        assert_eq!(s.tax_code(500), None);
        let mut bad = s.clone();
        bad.tax_rates.insert("twenty".into(), "X".into());
        assert_eq!(
            bad.validate().unwrap_err().field.as_deref(),
            Some("tax_rates.twenty")
        );
        let mut bad = s;
        bad.sales_account = "20 0".into();
        assert_eq!(bad.validate().unwrap_err().code, "invalid_account");
        assert_eq!(AccountingKind::parse("sage").unwrap(), AccountingKind::Sage);
        assert!(AccountingKind::parse("quickbooks").is_err());
    }
}
