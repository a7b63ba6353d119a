//! A throwaway PostgreSQL cluster for tests, started once per test process
//! from Debian's `postgresql` package (no Docker, nothing preinstalled but
//! the server binaries, which `scripts/test` installs).
//!
//! [`cluster`] runs `cluster.sh` beside this crate: `initdb` in a temporary
//! directory as an unprivileged user, a free port on 127.0.0.1. The script
//! holds the cluster for as long as this process keeps its stdin open, and
//! removes it when the process exits. Each test takes its own database
//! ([`Cluster::database`]), so tests still run in parallel.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The script that runs the cluster.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster.sh");

/// The test process's cluster.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    control: Mutex<Control>,
}

#[derive(Debug)]
struct Control {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    // Kept so the script is not reaped early; it ends when stdin closes.
    _child: Child,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The cluster of this test process, started on first use.
///
/// # Errors
/// The PostgreSQL server binaries are missing or the cluster did not start;
/// the message says what to do.
pub fn cluster() -> Result<&'static Cluster, String> {
    CLUSTER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn start() -> Result<Cluster, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let mut child = Command::new("bash")
        .arg(SCRIPT)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("the cluster script has no stdin or stdout".into());
    };
    let mut control = Control {
        stdin,
        stdout: BufReader::new(stdout),
        _child: child,
    };
    control.expect(&format!("READY {port}"))?;
    Ok(Cluster {
        port,
        control: Mutex::new(control),
    })
}

impl Control {
    fn expect(&mut self, want: &str) -> Result<(), String> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("the cluster script failed: {e}"))?;
        if line.trim_end() == want {
            Ok(())
        } else {
            Err(format!(
                "the PostgreSQL test cluster did not start (expected {want:?}, got {:?}); its error is above",
                line.trim_end()
            ))
        }
    }

    fn command(&mut self, cmd: &str, answer: &str) -> Result<(), String> {
        writeln!(self.stdin, "{cmd}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the cluster script is gone: {e}"))?;
        self.expect(answer)
    }
}

impl Cluster {
    /// A cluster of the caller's own, removed when it is dropped: for a
    /// test that stops and restarts the server, which must not take the
    /// shared cluster away from the tests running beside it.
    ///
    /// # Errors
    /// As [`cluster`].
    pub fn start_private() -> Result<Cluster, String> {
        start()
    }

    /// The port the cluster listens on (127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this cluster.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database of its own; its URL.
    ///
    /// # Errors
    /// The cluster refused the connection or the `CREATE DATABASE`.
    pub async fn database(&self) -> Result<String, String> {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| format!("cannot reach the test cluster: {e}"))?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cannot create database {name}: {e}"))?;
        conn.close().await.ok();
        Ok(self.url(&name))
    }

    /// Stop the server (fast shutdown: connections are cut), as when the
    /// database restarts under a running application.
    ///
    /// # Errors
    /// The script did not confirm.
    pub fn stop(&self) -> Result<(), String> {
        self.lock()?.command("stop", "STOPPED")
    }

    /// Start the server again on the same port and data.
    ///
    /// # Errors
    /// The script did not confirm.
    pub fn start(&self) -> Result<(), String> {
        self.lock()?.command("start", "STARTED")
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Control>, String> {
        self.control
            .lock()
            .map_err(|_| "the cluster control was poisoned by a failed test".to_owned())
    }
}
