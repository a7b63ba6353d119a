//! Wake-ups across the instances sharing one database. A worker that makes
//! work for another (an import enqueuing pushes) wakes it here at once; the
//! same wake is published to the other instances (PostgreSQL `NOTIFY`), so
//! an order imported on one instance starts the stock push on another
//! within milliseconds rather than on its next tick. Wakes are coalesced:
//! one message carries every topic raised since the last one.

use std::sync::Arc;

use switchyard_storage::Storage;
use tokio::sync::{Notify, mpsc, watch};

use crate::context::{Context, Topic};

/// `{instance} {topic},{topic}…`: who woke whom.
fn payload(instance: &str, topics: &[Topic]) -> String {
    let names: Vec<&str> = topics.iter().map(|t| t.as_str()).collect();
    format!("{instance} {}", names.join(","))
}

/// The topics of a payload another instance sent; `None` for this
/// instance's own (already woken here) or for what cannot be read.
fn topics_from<'a>(instance: &str, payload: &'a str) -> Option<impl Iterator<Item = Topic> + 'a> {
    let (from, topics) = payload.split_once(' ')?;
    (from != instance).then(|| topics.split(',').filter_map(Topic::parse))
}

/// Publish this instance's wakes until `stop`, coalescing those raised
/// while the previous message was being sent.
pub(crate) async fn publish(
    ctx: Arc<Context>,
    mut wakes: mpsc::UnboundedReceiver<Topic>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            t = wakes.recv() => t,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(first) = first else { return };
        let mut topics = vec![first];
        while let Ok(t) = wakes.try_recv() {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        let message = payload(&ctx.instance, &topics);
        if let Err(e) = ctx.storage.publish_wakeup(&message).await {
            tracing::debug!(error = %e, "cannot publish a wake-up; the other instances' ticks find the work");
        }
    }
}

/// Wake this instance's workers on the other instances' wake-ups until
/// `stop` (or until the database stops sending them).
pub(crate) async fn listen(
    ctx: Arc<Context>,
    mut incoming: mpsc::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            m = incoming.recv() => m,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(message) = message else { return };
        if let Some(topics) = topics_from(&ctx.instance, &message) {
            for t in topics {
                ctx.signals.wake_here(t);
            }
        }
    }
}

/// On an instance that runs no workers (the API only): every time the API
/// pokes `wake` (it enqueued work, changed stock), tell the instances that
/// run them, until `stop`.
pub async fn relay_api_wakes(
    storage: Arc<dyn Storage>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let message = payload("api", &Topic::ALL);
    loop {
        tokio::select! {
            () = wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = storage.publish_wakeup(&message).await {
            tracing::debug!(error = %e, "cannot publish a wake-up; the workers' ticks find the work");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_sender_and_the_sender_ignores_its_own() {
        let p = payload("wrk_a", &[Topic::Push, Topic::Dispatch]);
        assert_eq!(p, "wrk_a push,dispatch");
        let got: Vec<Topic> = topics_from("wrk_b", &p).unwrap().collect();
        assert_eq!(got, [Topic::Push, Topic::Dispatch]);
        assert!(topics_from("wrk_a", &p).is_none());
        let odd: Vec<Topic> = topics_from("wrk_b", "wrk_a push,nonsense")
            .unwrap()
            .collect();
        assert_eq!(odd, [Topic::Push]);
        assert!(topics_from("wrk_b", "garbage").is_none());
    }
}
