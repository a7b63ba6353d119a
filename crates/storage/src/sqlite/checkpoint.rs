//! WAL checkpoints off the writer's path.
//!
//! By default SQLite checkpoints inside the commit that takes the WAL past
//! 1,000 pages: that commit copies the WAL into the database and syncs
//! both files while every other writer waits on it. In the import bench
//! that was a third of the time the single writer was busy, and it is
//! where the tail of a sale's propagation waits. Here the writer never
//! checkpoints (`wal_autocheckpoint = 0`); a task on its own connection
//! runs a `PASSIVE` checkpoint (which never blocks the writer or readers)
//! a moment after writes are released, at most every
//! [`CHECKPOINT_SPACING`]. It stops when the storage is dropped.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Notify, oneshot};

use crate::Result;

/// The shortest time between two checkpoints: long enough that a burst of
/// small commits is checkpointed together, short enough that the WAL stays
/// a few MB and readers find pages in the database file.
pub(crate) const CHECKPOINT_SPACING: Duration = Duration::from_millis(50);

/// Runs checkpoints while it lives.
pub(crate) struct Checkpointer {
    wake: Arc<Notify>,
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").finish_non_exhaustive()
    }
}

impl Checkpointer {
    /// Open the checkpoint connection and start the task.
    pub(crate) async fn start(opts: &SqliteConnectOptions) -> Result<Self> {
        let conn = opts.connect().await?;
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(conn, Arc::clone(&wake), stopped));
        Ok(Self { wake, _stop: stop })
    }

    /// The handle the writer pool's release hook calls.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }
}

async fn run(mut conn: SqliteConnection, wake: Arc<Notify>, mut stopped: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            () = wake.notified() => {}
            _ = &mut stopped => break,
        }
        // (busy, frames in the WAL, frames checkpointed)
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut conn)
            .await
        {
            Ok((_, log, done)) => tracing::trace!(log, done, "WAL checkpoint"),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retried after the next write")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(CHECKPOINT_SPACING) => {}
            _ = &mut stopped => break,
        }
    }
    // The last writes' frames go into the database before the connection
    // closes.
    let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(&mut conn)
        .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::sqlite::SqliteStorage;

    /// The writer never checkpoints, yet what it commits reaches the
    /// database file: the checkpointer copied it there. (Below 1,000 pages,
    /// SQLite's own automatic checkpoint would not have run either.)
    #[tokio::test]
    async fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let s = SqliteStorage::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let (auto,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(&s.write)
            .await
            .unwrap();
        assert_eq!(auto, 0, "the writer leaves checkpoints to the checkpointer");
        sqlx::query("CREATE TABLE blobs (b BLOB)")
            .execute(&s.write)
            .await
            .unwrap();
        for _ in 0..8 {
            sqlx::query("INSERT INTO blobs VALUES (randomblob(65536))")
                .execute(&s.write)
                .await
                .unwrap();
        }
        let mut size = 0;
        for _ in 0..100 {
            size = std::fs::metadata(&path).unwrap().len();
            if size >= 8 * 65536 {
                break;
            }
            tokio::time::sleep(CHECKPOINT_SPACING).await;
        }
        assert!(size >= 8 * 65536, "the database file holds {size} bytes");
    }
}
