//! Hosted onboarding pages: the provider's branding, checked so that
//! nothing it writes can become markup, script or a request elsewhere,
//! and the states a page goes through.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest a page may stay open, in days.
pub const MAX_DAYS: i64 = 30;
/// How long a page stays open when the provider does not say, in days.
pub const DEFAULT_DAYS: i64 = 7;

/// The fonts a page may use: system stacks only, so a page loads nothing
/// from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Font {
    /// The platform's interface font.
    #[default]
    System,
    /// A serif text face.
    Serif,
    /// A rounded interface face where the platform has one.
    Rounded,
    /// A monospaced face.
    Mono,
}

impl Font {
    /// Every font, for messages and forms.
    pub const ALL: [Self; 4] = [Self::System, Self::Serif, Self::Rounded, Self::Mono];

    /// The CSS `font-family` value (fixed text, never the provider's).
    #[must_use]
    pub fn stack(self) -> &'static str {
        match self {
            Self::System => "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif",
            Self::Serif => "Georgia, \"Times New Roman\", serif",
            Self::Rounded => "ui-rounded, \"SF Pro Rounded\", system-ui, sans-serif",
            Self::Mono => "ui-monospace, SFMono-Regular, Menlo, monospace",
        }
    }

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Serif => "serif",
            Self::Rounded => "rounded",
            Self::Mono => "mono",
        }
    }
}

/// How a page looks: the provider's name, logo and colours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// The provider's name, shown as the page's heading (1–100 characters).
    pub name: String,
    /// An https URL of the provider's logo.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Main colour, `#rrggbb` or `#rgb`.
    #[serde(default)]
    pub primary_color: Option<String>,
    /// Accent colour, `#rrggbb` or `#rgb`.
    #[serde(default)]
    pub accent_color: Option<String>,
    /// One of the fonts in [`Font::ALL`].
    #[serde(default)]
    pub font: Font,
}

/// Whether `v` is a CSS hex colour: `#` and 3 or 6 hex digits, nothing else.
#[must_use]
pub fn is_hex_colour(v: &str) -> bool {
    v.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Branding {
    /// Check every field; errors name it (`branding.primary_color`).
    pub fn validate(&self) -> Result<(), DomainError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "invalid_branding",
                "branding.name",
                "name must be 1 to 100 characters, without control characters",
            ));
        }
        for (field, v) in [
            ("branding.primary_color", &self.primary_color),
            ("branding.accent_color", &self.accent_color),
        ] {
            if let Some(c) = v
                && !is_hex_colour(c)
            {
                return Err(DomainError::invalid(
                    "invalid_branding",
                    field,
                    format!(
                        "`{}` is not a hex colour like #1f6feb",
                        c.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
        if let Some(u) = &self.logo_url {
            let ok = u.len() <= 2000
                && u.starts_with("https://")
                && u.len() > "https://".len()
                && !u.chars().any(|c| {
                    c.is_whitespace()
                        || c.is_control()
                        || matches!(c, '"' | '\'' | '<' | '>' | '\\')
                });
            if !ok {
                return Err(DomainError::invalid(
                    "invalid_branding",
                    "branding.logo_url",
                    "logo_url must be an https URL (at most 2,000 characters, no spaces or quotes)",
                ));
            }
        }
        Ok(())
    }
}

/// Where a page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageState {
    /// Waiting for the client.
    Open,
    /// A channel was connected through it; it cannot be used again.
    Completed,
    /// Past its expiry, unused.
    Expired,
    /// Withdrawn by the provider.
    Revoked,
}

impl PageState {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// The state of a page that was stored as `stored` (`open`,
    /// `completed`, `revoked`) and expires at `expires_at`, seen at `now`:
    /// an open page past its expiry is expired.
    #[must_use]
    pub fn at(stored: Self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if stored == Self::Open && now >= expires_at {
            Self::Expired
        } else {
            stored
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding {
            name: "Acme Fulfilment".into(),
            logo_url: Some("https://cdn.acme.example/logo.png".into()),
            primary_color: Some("#1f6feb".into()),
            accent_color: Some("#0a0".into()),
            font: Font::Serif,
        }
    }

    #[test]
    fn hostile_branding_is_refused_field_by_field() {
        assert!(brand().validate().is_ok());
        for (field, b) in [
            (
                "branding.primary_color",
                Branding {
                    primary_color: Some("red;}body{display:none".into()),
                    ..brand()
                },
            ),
            (
                "branding.accent_color",
                Branding {
                    accent_color: Some("#12345".into()),
                    ..brand()
                },
            ),
            (
                "branding.logo_url",
                Branding {
                    logo_url: Some("javascript:alert(1)".into()),
                    ..brand()
                },
            ),
            (
                "branding.logo_url",
                Branding {
                    logo_url: Some("http://acme.example/logo.png".into()),
                    ..brand()
                },
            ),
            (
                "branding.logo_url",
                Branding {
                    logo_url: Some("https://x.example/\"onerror=\"alert(1)".into()),
                    ..brand()
                },
            ),
            (
                "branding.name",
                Branding {
                    name: "  ".into(),
                    ..brand()
                },
            ),
            (
                "branding.name",
                Branding {
                    name: "a\u{0}b".into(),
                    ..brand()
                },
            ),
        ] {
            let e = b.validate().expect_err(field);
            assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
        }
        let font: Result<Branding, _> = serde_json::from_value(serde_json::json!({
            "name": "x", "font": "Comic Sans\"; }"
        }));
        assert!(font.is_err(), "fonts come from the list");
    }

    #[test]
    fn an_open_page_expires_at_its_time_and_other_states_stay() {
        let t = Utc::now();
        assert_eq!(
            PageState::at(PageState::Open, t, t - chrono::Duration::seconds(1)),
            PageState::Open
        );
        assert_eq!(PageState::at(PageState::Open, t, t), PageState::Expired);
        assert_eq!(
            PageState::at(PageState::Completed, t, t + chrono::Duration::days(1)),
            PageState::Completed
        );
        assert_eq!(
            PageState::at(PageState::Revoked, t, t + chrono::Duration::days(1)),
            PageState::Revoked
        );
    }
}
