//! What signing in is made of: Argon2id password hashes, random secrets
//! kept only as SHA-256 hashes, the session cookie, its CSRF token, and the
//! sign-in throttle.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The session cookie.
pub const SESSION_COOKIE: &str = "sy_session";
/// The sign-in form's double-submit cookie (no session exists yet).
pub const FORM_COOKIE: &str = "sy_form";

/// Why a secret or a hash could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The OS random generator failed.
    #[error("random generator failed: {0}")]
    Random(#[from] getrandom::Error),
    /// Argon2 refused its input.
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// 32 random bytes, base64url: a session, link or form secret.
pub fn secret() -> Result<String, AuthError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// The CSRF token of a session: derived from its secret, so it is never
/// stored, differs per session and means nothing without the cookie.
#[must_use]
pub fn csrf_token(session_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"switchyard console csrf\0");
    h.update(session_secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Equal without telling how much of it was equal by how long it took.
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// An Argon2id hash (PHC string) of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(AuthError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AuthError::Hash)
}

/// Whether `password` matches the stored hash. With no stored hash (an
/// unknown email, or a user who never set a password) a dummy hash is
/// checked, so the answer takes as long either way.
#[must_use]
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    // The hash of a random password nobody knows, with the same cost.
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => match DUMMY.get_or_init(|| secret().ok().and_then(|s| hash_password(&s).ok())) {
            Some(d) => (d.as_str(), false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// A cookie's value from the request's `Cookie` headers.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure when
/// the console is served over https; `max_age` 0 removes it.
#[must_use]
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// Failed sign-ins remembered per key (an email, an address, the account
/// an email belongs to) over a sliding window; past a key's limit,
/// sign-in for that key waits. The account's limit is the widest: it
/// holds many emails of one account guessed from many addresses.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    per_email: usize,
    per_address: usize,
    per_account: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Most keys remembered at once; the oldest are dropped beyond it, so a
/// flood of made-up emails cannot grow memory without bound.
const THROTTLE_KEYS: usize = 100_000;

impl Throttle {
    /// `per_email`, `per_address` and `per_account` failures allowed per
    /// `window`.
    #[must_use]
    pub fn new(window: Duration, per_email: usize, per_address: usize, per_account: usize) -> Self {
        Self {
            window,
            per_email,
            per_address,
            per_account,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The keys of an attempt with their limits.
    fn keys(&self, email: &str, address: &str, account: Option<&str>) -> Vec<(String, usize)> {
        let mut keys = vec![
            (format!("e:{email}"), self.per_email),
            (format!("a:{address}"), self.per_address),
        ];
        if let Some(account) = account {
            keys.push((format!("c:{account}"), self.per_account));
        }
        keys
    }

    /// How long until another attempt for this email (of this account,
    /// when it has one) from this address may be tried, if it must wait.
    pub fn wait(
        &self,
        email: &str,
        address: &str,
        account: Option<&str>,
        now: Instant,
    ) -> Option<Duration> {
        let map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.keys(email, address, account)
            .into_iter()
            .filter_map(|(k, limit)| {
                let q = map.get(&k)?;
                let recent: Vec<&Instant> = q
                    .iter()
                    .filter(|t| now.duration_since(**t) < self.window)
                    .collect();
                (recent.len() >= limit).then(|| {
                    let oldest = **recent.first()?;
                    Some(self.window.saturating_sub(now.duration_since(oldest)))
                })?
            })
            .max()
    }

    /// Remember a failed attempt.
    pub fn failed(&self, email: &str, address: &str, account: Option<&str>, now: Instant) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= THROTTLE_KEYS {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            if map.len() >= THROTTLE_KEYS {
                map.clear();
            }
        }
        for (k, _) in self.keys(email, address, account) {
            let q = map.entry(k).or_default();
            q.retain(|t| now.duration_since(*t) < self.window);
            q.push_back(now);
        }
    }

    /// Forget an email's failures after a successful sign-in.
    pub fn succeeded(&self, email: &str) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&format!("e:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&h)));
        assert!(!verify_password("correct horse batterY", Some(&h)));
        assert!(!verify_password("correct horse battery", None));
        assert!(!verify_password("x", Some("not a hash")));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn the_throttle_holds_an_email_after_its_limit_and_forgets_on_success() {
        let t = Throttle::new(Duration::from_secs(60), 3, 10, 20);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(t.wait("a@x.io", "1.2.3.4", None, now).is_none());
            t.failed("a@x.io", "1.2.3.4", None, now);
        }
        let wait = t.wait("a@x.io", "5.6.7.8", None, now).expect("held");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(
            t.wait("b@x.io", "1.2.3.4", None, now).is_none(),
            "the address has room"
        );
        assert!(
            t.wait("a@x.io", "1.2.3.4", None, now + Duration::from_secs(61))
                .is_none()
        );
        t.succeeded("a@x.io");
        assert!(t.wait("a@x.io", "1.2.3.4", None, now).is_none());
    }

    #[test]
    fn the_throttle_holds_an_account_guessed_at_from_many_addresses() {
        let t = Throttle::new(Duration::from_secs(60), 3, 10, 20);
        let now = Instant::now();
        // Ten users of one account, two tries each, each from its own address.
        for i in 0..10 {
            for _ in 0..2 {
                t.failed(
                    &format!("u{i}@acme.io"),
                    &format!("10.0.0.{i}"),
                    Some("acc_1"),
                    now,
                );
            }
        }
        assert!(
            t.wait("new@acme.io", "10.0.1.1", Some("acc_1"), now)
                .is_some(),
            "the account is held"
        );
        assert!(
            t.wait("new@globex.io", "10.0.1.1", Some("acc_2"), now)
                .is_none()
        );
        assert!(t.wait("new@acme.io", "10.0.1.1", None, now).is_none());
    }

    #[test]
    fn cookies_are_read_by_name_and_csrf_tokens_differ_per_session() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; sy_session=abc".parse().unwrap());
        h.append("cookie", "sy_form=def".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, FORM_COOKIE), Some("def"));
        assert_eq!(cookie(&h, "none"), None);
        assert_ne!(csrf_token("s1"), csrf_token("s2"));
        assert!(same(&csrf_token("s1"), &csrf_token("s1")));
        assert!(!same("abc", "abd") && !same("abc", "ab"));
        assert!(set_cookie("n", "v", Duration::from_secs(5), true).ends_with("; Secure"));
    }
}
