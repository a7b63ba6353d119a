//! The one error type of the domain: a value failed validation.

/// A domain rule was broken. `code` is a stable snake_case identifier that the
/// API passes to clients; `field` names the offending input where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    /// Stable machine-readable code, e.g. `invalid_sku`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Dotted path of the offending input field, when known.
    pub field: Option<String>,
}

impl DomainError {
    /// A validation failure for `field`.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A rule failure that is not tied to one input field.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Re-anchor the error under a parent field, e.g. `sku` → `items[3].sku`.
    #[must_use]
    pub fn under(mut self, parent: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) if f.starts_with('[') => format!("{parent}{f}"),
            Some(f) => format!("{parent}.{f}"),
            None => parent.to_owned(),
        });
        self
    }
}
