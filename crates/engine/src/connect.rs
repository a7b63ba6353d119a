//! Connectors per channel, built from the stored (sealed) credentials and
//! kept while the channel is unchanged, so a channel's rate-limit state and
//! HTTP connections carry over from one round to the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use switchyard_connectors::channel::SalesChannel;
use switchyard_connectors::registry;
use switchyard_domain::ids::ChannelId;
use switchyard_storage::{Channel, ChannelRef};

use crate::EngineError;
use crate::context::Context as Inner;

/// A connector with what it was built from: the channel's `updated_at` and
/// its sealed credentials (every sealing draws a fresh nonce, so any
/// credential change, the engine's own included, shows as different bytes).
type Entry = (DateTime<Utc>, Vec<u8>, Arc<dyn SalesChannel>);

/// Built connectors by channel.
#[derive(Debug, Default)]
pub(crate) struct Cache(Mutex<HashMap<ChannelId, Entry>>);

/// The channel and its connector, or why there is none (a message for the
/// channel's last error).
pub(crate) async fn open(
    inner: &Inner,
    r: &ChannelRef,
) -> Result<(Channel, Result<Arc<dyn SalesChannel>, String>), EngineError> {
    let ch = inner
        .storage
        .get_channel(&r.account_id, &r.store_id, &r.channel_id)
        .await?;
    let sealed = inner
        .storage
        .channel_credentials(&r.account_id, &r.store_id, &r.channel_id)
        .await?;
    let Some(sealed) = sealed else {
        return Ok((ch, Err("the channel has no credentials".to_owned())));
    };
    if let Ok(m) = inner.connectors.0.lock()
        && let Some((at, built_from, c)) = m.get(&r.channel_id)
        && *at == ch.updated_at
        && *built_from == sealed
    {
        return Ok((ch, Ok(Arc::clone(c))));
    }
    let creds = match inner.cipher.open(&r.account_id, &r.channel_id, &sealed) {
        Ok(c) => c,
        Err(e) => return Ok((ch, Err(format!("cannot decrypt the credentials: {e}")))),
    };
    let built = registry::connect(
        ch.kind,
        ch.base_url.as_deref(),
        Some(&creds),
        inner.config.http.clone(),
    );
    match built {
        Ok(c) => {
            if let Ok(mut m) = inner.connectors.0.lock() {
                m.insert(
                    r.channel_id.clone(),
                    (ch.updated_at, sealed, Arc::clone(&c)),
                );
            }
            Ok((ch, Ok(c)))
        }
        Err(e) => Ok((ch, Err(e.to_string()))),
    }
}

/// The decrypted credentials of a channel (to add a generated secret).
pub(crate) async fn credentials(
    inner: &Inner,
    r: &ChannelRef,
) -> Result<Option<Vec<u8>>, EngineError> {
    let sealed = inner
        .storage
        .channel_credentials(&r.account_id, &r.store_id, &r.channel_id)
        .await?;
    Ok(sealed.and_then(|s| inner.cipher.open(&r.account_id, &r.channel_id, &s).ok()))
}
