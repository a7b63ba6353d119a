//! The people who sign in to the console: their roles, and the rules an
//! email address and a password must meet.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// What a user may do in their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and API tokens.
    Owner,
    /// Everything but users and API tokens; may be limited to some stores.
    Staff,
}

impl Role {
    /// The stored and displayed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Staff => "staff",
        }
    }

    /// Parse a stored or submitted name.
    ///
    /// # Errors
    /// `invalid_role` for anything but `owner` and `staff`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "owner" => Ok(Self::Owner),
            "staff" => Ok(Self::Staff),
            other => Err(DomainError::invalid(
                "invalid_role",
                "role",
                format!("role must be \"owner\" or \"staff\", not {other:?}"),
            )),
        }
    }

    /// Whether the role manages users and API tokens.
    #[must_use]
    pub fn manages_access(self) -> bool {
        self == Self::Owner
    }
}

/// Longest accepted email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// An email address as stored and compared: trimmed and lower-cased, with
/// one `@` between a non-empty local part and a dotted domain.
///
/// # Errors
/// `invalid_email` naming what is wrong.
pub fn normalise_email(raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    let bad = |why: &str| DomainError::invalid("invalid_email", "email", why.to_owned());
    if email.is_empty() {
        return Err(bad("email is required"));
    }
    if email.len() > EMAIL_MAX {
        return Err(bad("email is longer than 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("email contains a space or a control character"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("email has no @"));
    };
    if local.is_empty() || domain.contains('@') {
        return Err(bad("email must be one name, an @, and a domain"));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad(
            "email's domain must be a dotted name, e.g. example.com",
        ));
    }
    Ok(email)
}

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN: usize = 10;
/// Longest accepted password, in bytes (hashing cost stays bounded).
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Check a new password: at least [`PASSWORD_MIN`] characters, at most
/// [`PASSWORD_MAX_BYTES`] bytes, not only spaces.
///
/// # Errors
/// `weak_password` or `invalid_password`, naming the rule.
pub fn check_new_password(password: &str) -> Result<(), DomainError> {
    if password.chars().count() < PASSWORD_MIN || password.trim().is_empty() {
        return Err(DomainError::invalid(
            "weak_password",
            "password",
            format!("a password needs at least {PASSWORD_MIN} characters"),
        ));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(DomainError::invalid(
            "invalid_password",
            "password",
            format!("a password may have at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalise_email("  Ann@Example.COM ").as_deref(),
            Ok("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "a b@x.io",
            "a@b@c.io",
            "ann@.io",
        ] {
            let e = normalise_email(bad).expect_err(bad);
            assert_eq!(e.code, "invalid_email", "{bad}");
            assert_eq!(e.field.as_deref(), Some("email"));
        }
        assert!(normalise_email(&format!("{}@x.io", "a".repeat(250))).is_err());
    }

    #[test]
    fn a_password_has_a_floor_and_a_ceiling() {
        assert_eq!(
            check_new_password("short").map_err(|e| e.code),
            Err("weak_password")
        );
        assert_eq!(
            check_new_password("          ").map_err(|e| e.code),
            Err("weak_password")
        );
        assert!(check_new_password("correct horse").is_ok());
        assert_eq!(
            check_new_password(&"x".repeat(2000)).map_err(|e| e.code),
            Err("invalid_password")
        );
    }

    #[test]
    fn roles_round_trip_and_only_owners_manage_access() {
        for r in [Role::Owner, Role::Staff] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("admin").is_err());
        assert!(Role::Owner.manages_access());
        assert!(!Role::Staff.manages_access());
    }
}
