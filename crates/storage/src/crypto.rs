//! Encryption of channel credentials at rest.
//!
//! Credentials are sealed with XChaCha20-Poly1305 under a 256-bit key kept in
//! a file in the data directory (mode 0600, created on first start). The
//! account and channel ids are bound as associated data, so a sealed blob
//! copied to another channel or account fails to open instead of leaking.
//!
//! Sealed layout: `0x01 ‖ nonce (24 bytes) ‖ ciphertext+tag`.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use switchyard_domain::ids::{AccountId, ChannelId};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Errors of sealing, opening and key handling.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key file could not be read or written.
    #[error("cannot use key file {path}")]
    KeyFile {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold a 32-byte key.
    #[error("key file {path} is not a 32-byte key ({len} bytes)")]
    BadKey {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
    /// The OS random generator failed.
    #[error("random generator failed: {0}")]
    Random(getrandom::Error),
    /// The blob is not ours, was tampered with, or belongs to another channel.
    #[error("sealed credentials cannot be opened (wrong key, channel or account, or tampered)")]
    Open,
    /// Encryption failed (only on absurd input sizes).
    #[error("sealing failed")]
    Seal,
}

/// Seals and opens channel credentials.
#[derive(Clone)]
pub struct CredentialCipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialCipher(<redacted>)")
    }
}

/// Binds a sealed value to its account and owner (a channel id, or a
/// webhook id for a signing secret): a value copied to another row fails
/// to open.
fn aad(account: &AccountId, owner: &str) -> Vec<u8> {
    format!("switchyard/channel-credentials/v1/{account}/{owner}").into_bytes()
}

impl CredentialCipher {
    /// A cipher over a raw 32-byte key.
    #[must_use]
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Read the key at `path`, creating it (mode 0600) with fresh random bytes
    /// if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let shown = path.display().to_string();
        let io = |source| CryptoError::KeyFile {
            path: shown.clone(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| CryptoError::BadKey {
                            path: shown.clone(),
                            len: bytes.len(),
                        })?;
                Ok(Self::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                getrandom::fill(&mut key).map_err(CryptoError::Random)?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(path).map_err(io)?;
                f.write_all(&key).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypt `plaintext` for one channel of one account.
    pub fn seal(
        &self,
        account: &AccountId,
        channel: &ChannelId,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_for(account, channel.as_str(), plaintext)
    }

    /// Decrypt what [`seal`](Self::seal) produced for the same account and channel.
    pub fn open(
        &self,
        account: &AccountId,
        channel: &ChannelId,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.open_for(account, channel.as_str(), sealed)
    }

    /// [`open_for`](Self::open_for) a sealed text (a signing secret).
    pub fn open_text_for(
        &self,
        account: &AccountId,
        owner: &str,
        sealed: &[u8],
    ) -> Result<String, CryptoError> {
        String::from_utf8(self.open_for(account, owner, sealed)?).map_err(|_| CryptoError::Open)
    }

    /// Encrypt `plaintext` for any owner (by id) of one account.
    pub fn seal_for(
        &self,
        account: &AccountId,
        owner: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(CryptoError::Random)?;
        let aad = aad(account, owner);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypt what [`seal_for`](Self::seal_for) produced for the same account and owner.
    pub fn open_for(
        &self,
        account: &AccountId,
        owner: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let aad = aad(account, owner);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| CryptoError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_credentials_open_only_for_their_channel_and_account() {
        let c = CredentialCipher::from_key(&[7; 32]);
        let (a, ch) = (AccountId::generate(), ChannelId::generate());
        let sealed = c.seal(&a, &ch, b"{\"token\":\"shpat_123\"}").unwrap();
        assert!(
            !sealed.windows(9).any(|w| w == b"shpat_123"),
            "plaintext must not appear"
        );
        assert_eq!(
            c.open(&a, &ch, &sealed).unwrap(),
            b"{\"token\":\"shpat_123\"}"
        );
        assert!(c.open(&a, &ChannelId::generate(), &sealed).is_err());
        assert!(c.open(&AccountId::generate(), &ch, &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(c.open(&a, &ch, &tampered).is_err());
        assert!(
            CredentialCipher::from_key(&[8; 32])
                .open(&a, &ch, &sealed)
                .is_err()
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let c1 = CredentialCipher::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (a, ch) = (AccountId::generate(), ChannelId::generate());
        let sealed = c1.seal(&a, &ch, b"x").unwrap();
        let c2 = CredentialCipher::load_or_create(&path).unwrap();
        assert_eq!(c2.open(&a, &ch, &sealed).unwrap(), b"x");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            CredentialCipher::load_or_create(&path),
            Err(CryptoError::BadKey { .. })
        ));
    }
}
