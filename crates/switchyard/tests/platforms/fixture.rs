//! Real commerce platforms for the tests: installed by
//! `scripts/fixtures/install.sh` into a cache directory outside the
//! checkout, started once per test run on a free loopback port, and
//! stopped when the test process exits (each server exits when its stdin
//! closes, and the test process holds the other end).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a platform may take to install and boot.
const BOOT_LIMIT: Duration = Duration::from_secs(240);

/// A running platform server.
#[derive(Debug)]
pub struct Platform {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where the fixture is installed (its scripts and `node_modules`).
    pub dir: PathBuf,
    /// What the fixture's setup printed (API keys, ids).
    pub setup: Value,
    /// Kept open: the server exits when it closes.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Install the fixture `name`; returns its directory.
pub fn install(name: &str) -> Result<PathBuf, String> {
    let script = repo_root().join("scripts/fixtures/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(name)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {name} failed ({})",
            script.display(),
            out.status
        ));
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(PathBuf::from(dir))
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Run a fixture script with node in `dir`; its stdout is one JSON object.
pub fn node(dir: &Path, args: &[&str]) -> Result<Value, String> {
    let out = Command::new("node")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "node {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "node {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

impl Platform {
    /// Start `program args` in `dir` and wait for a `READY` line on its
    /// stdout; then run `setup` to configure it.
    pub fn start(
        name: &str,
        dir: PathBuf,
        port: u16,
        program: &str,
        args: &[String],
        setup: impl FnOnce(&str, &Path) -> Result<Value, String>,
    ) -> Result<Self, String> {
        let log =
            std::env::temp_dir().join(format!("switchyard-{name}-{}.log", std::process::id()));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let deadline = started + BOOT_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("READY") => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: String = tail
                        .chars()
                        .rev()
                        .take(4000)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    return Err(format!(
                        "{name} did not start ({e:?}); its log {}:\n{tail}",
                        log.display()
                    ));
                }
            }
        }
        eprintln!("{name} started in {:.1} s", started.elapsed().as_secs_f64());
        let base = format!("http://127.0.0.1:{port}");
        let setup = setup(&base, &dir)?;
        Ok(Self {
            base,
            dir,
            setup,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        })
    }

    /// Run one of the fixture's node scripts against this server.
    pub async fn node(&self, args: Vec<String>) -> Value {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            node(&dir, &args)
        })
        .await
        .expect("fixture task")
        .unwrap_or_else(|e| panic!("{e}"))
    }
}
