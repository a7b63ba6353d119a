//! Email for the console's single-use links (invitations, new sign-in
//! links, password resets), sent over SMTP when `smtp_url` is set.
//!
//! `smtp_url` takes lettre's connection URLs: `smtps://user:pass@host:465`
//! (TLS from the start), `smtp://user:pass@host:587?tls=required`
//! (STARTTLS), or `smtp://host:25` (plain, for a relay on this machine).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How long one message may take to send.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Why mail could not be set up or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `smtp_url` cannot be used.
    #[error("smtp_url is not usable: {0}")]
    Url(#[source] lettre::transport::smtp::Error),
    /// An address is not an email address.
    #[error("`{address}` is not a mailbox: {source}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The message could not be made.
    #[error("the message could not be made: {0}")]
    Message(#[source] lettre::error::Error),
    /// The SMTP server refused it or could not be reached.
    #[error("the mail server did not take it: {0}")]
    Send(#[source] lettre::transport::smtp::Error),
}

/// Sends the console's mail through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP password.
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

/// The mailbox parsed, or why not.
fn mailbox(address: &str) -> Result<Mailbox, MailError> {
    address.parse().map_err(|source| MailError::Address {
        address: address.to_owned(),
        source,
    })
}

impl Mailer {
    /// A mailer for `smtp_url`, sending as `from` (`Name <addr@host>` or
    /// a bare address).
    ///
    /// # Errors
    /// When the URL or the sender cannot be used.
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(MailError::Url)?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Self {
            transport,
            from: mailbox(from)?,
        })
    }

    /// Send a plain-text message to one address.
    ///
    /// # Errors
    /// When the address is not one, or the server does not take it.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox(to)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(MailError::Message)?;
        self.transport
            .send(message)
            .await
            .map_err(MailError::Send)?;
        tracing::info!(subject, "console mail sent");
        Ok(())
    }
}

/// What a link is for, in a message's words.
#[derive(Debug, Clone, Copy)]
pub enum LinkMail {
    /// An invitation to an account.
    Invitation,
    /// A new link made by an owner.
    NewLink,
    /// A reset the user asked for.
    Reset,
}

impl LinkMail {
    /// Subject and text of the message carrying `link`, which works for
    /// `hours`.
    #[must_use]
    pub fn compose(self, link: &str, hours: u32) -> (&'static str, String) {
        let (subject, opening) = match self {
            Self::Invitation => (
                "You are invited to Switchyard",
                "You have been invited to a Switchyard account. Open this link to set your password and sign in:",
            ),
            Self::NewLink => (
                "Your Switchyard sign-in link",
                "An owner of your Switchyard account made you a new link. Open it to set your password and sign in:",
            ),
            Self::Reset => (
                "Reset your Switchyard password",
                "Someone (we hope you) asked to reset your Switchyard password. Open this link to set a new one:",
            ),
        };
        (
            subject,
            format!(
                "{opening}\n\n{link}\n\nThe link works once and expires in {hours} hours. \
                 If you did not expect this message, ignore it: nothing changes until the link is used.\n"
            ),
        )
    }
}
