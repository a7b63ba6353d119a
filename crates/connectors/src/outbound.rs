//! Outbound safety: every connection Switchyard makes on a user's behalf
//! (to a channel or back office through [`crate::http::ChannelHttp`], to a
//! plugin or a webhook endpoint) is checked against the operator's
//! [`AddressPolicy`] on the address it actually connects to. Names are resolved by [`GuardedResolver`], which drops
//! refused addresses, so a name that resolves to a public address when the
//! subscription is made and to a private one later (DNS rebinding) is
//! refused at connect time; addresses written in the URL never reach a
//! resolver and are checked by [`check_url`] before anything is sent.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use switchyard_domain::webhook::AddressPolicy;

type Lookup = dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
    + Send
    + Sync;

/// A resolver that only hands out addresses the policy allows.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: AddressPolicy,
    lookup: Arc<Lookup>,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Every address of a name was refused.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to refused addresses: {reasons}")]
pub struct Refused {
    name: String,
    reasons: String,
}

/// A redirect pointed at a destination the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("redirect to {url} refused: {reason}")]
pub struct RedirectRefused {
    url: String,
    reason: String,
}

impl GuardedResolver {
    /// Resolve with the system resolver.
    #[must_use]
    pub fn new(policy: AddressPolicy) -> Self {
        Self::with_lookup(policy, |name| {
            Box::pin(async move {
                Ok(tokio::net::lookup_host((name.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect())
            })
        })
    }

    /// Resolve with `lookup` (tests stand in a name server that changes
    /// its answer).
    pub fn with_lookup(
        policy: AddressPolicy,
        lookup: impl Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            policy,
            lookup: Arc::new(lookup),
        }
    }

    /// The addresses of `name` the policy allows; an error naming the
    /// reasons when there are none.
    pub async fn allowed(
        &self,
        name: &str,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let all = (self.lookup)(name.to_owned()).await?;
        let mut reasons = Vec::new();
        let ok: Vec<IpAddr> = all
            .into_iter()
            .filter(|ip| match self.policy.check(*ip) {
                Ok(()) => true,
                Err(e) => {
                    reasons.push(e.message);
                    false
                }
            })
            .collect();
        if ok.is_empty() {
            if reasons.is_empty() {
                reasons.push("no address".to_owned());
            }
            return Err(Box::new(Refused {
                name: name.to_owned(),
                reasons: reasons.join("; "),
            }));
        }
        Ok(ok)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.allowed(name.as_str()).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Check a destination before sending: `http` or `https`, no credentials
/// in the URL, and an address written in the URL must be allowed (names
/// are checked when resolved).
pub fn check_url(url: &reqwest::Url, policy: &AddressPolicy) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https destinations are allowed, not `{}`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a destination must not carry credentials in its URL".to_owned());
    }
    let host = url.host_str().ok_or("the destination has no host")?;
    policy.check_host(host).map_err(|e| e.message)
}

/// Redirects are followed (at most 5) only to destinations [`check_url`]
/// allows: a redirect to a literal private address never reaches the
/// resolver, so it is checked here.
#[must_use]
pub fn redirect_policy(policy: &AddressPolicy) -> reqwest::redirect::Policy {
    let policy = policy.clone();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        match check_url(attempt.url(), &policy) {
            Ok(()) => attempt.follow(),
            Err(reason) => {
                let url = attempt.url().to_string();
                attempt.error(RedirectRefused { url, reason })
            }
        }
    })
}

/// Whether an error (from a request through a guarded client) says that
/// the destination was refused by the policy.
#[must_use]
pub fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<Refused>() || err.is::<RedirectRefused>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// An HTTP client for outbound deliveries: the guarded resolver, no
/// redirects followed (a 3xx is an answer, and a failure), no proxy taken
/// from the environment (it would connect on our behalf, unchecked).
pub fn client(
    policy: &AddressPolicy,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .user_agent(concat!("Switchyard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_name_that_rebinds_to_a_private_address_is_refused_on_the_next_lookup() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        // First answer public, every later one loopback: what a rebinding
        // name server does between a check and the connection.
        let r = GuardedResolver::with_lookup(AddressPolicy::default(), move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![if n == 0 {
                    IpAddr::from([93, 184, 216, 34])
                } else {
                    IpAddr::from([127, 0, 0, 1])
                }])
            })
        });
        assert_eq!(
            r.allowed("rebind.example").await.ok(),
            Some(vec![IpAddr::from([93, 184, 216, 34])])
        );
        let second = r.allowed("rebind.example").await;
        assert!(second.is_err_and(|e| e.to_string().contains("loopback")));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn urls_with_refused_addresses_or_schemes_are_refused() {
        let p = AddressPolicy::default();
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&u("http://10.0.0.1/hook"), &p).is_err());
        assert!(check_url(&u("http://[::1]:8080/"), &p).is_err());
        assert!(check_url(&u("http://169.254.169.254/latest/meta-data"), &p).is_err());
        assert!(check_url(&u("ftp://example.com/"), &p).is_err());
        assert!(check_url(&u("http://user:pw@example.com/"), &p).is_err());
        assert!(check_url(&u("http://2130706433/"), &p).is_err(), "decimal");
        assert!(check_url(&u("http://0x7f000001/"), &p).is_err(), "hex");
        assert!(
            check_url(&u("http://[::ffff:127.0.0.1]/"), &p).is_err(),
            "mapped"
        );
        assert!(
            check_url(&u("http://[64:ff9b::7f00:1]/"), &p).is_err(),
            "NAT64"
        );
        assert!(check_url(&u("https://hooks.example.com/x"), &p).is_ok());
    }
}
