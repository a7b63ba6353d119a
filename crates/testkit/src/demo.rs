//! `switchyard demo --keep-running` as a child process on a free loopback
//! port, with the console link it prints; the process ends when this is
//! dropped, however the test ends.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A kept demo.
#[derive(Debug)]
pub struct KeptDemo {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The one-time console link it printed.
    pub link: String,
    /// The API token it printed (`export SY=… TOKEN=…`).
    pub token: String,
    log: std::path::PathBuf,
    /// Its working directory (the data dir lives there); removed on drop.
    _dir: tempfile::TempDir,
    child: Child,
}

impl Drop for KeptDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl KeptDemo {
    /// Run `binary demo --keep-running --orders N --pace-ms 0` and wait (up
    /// to 4 minutes) for its console link.
    ///
    /// # Panics
    /// When it does not start or prints no link in time.
    #[must_use]
    pub fn start(binary: &str, orders: u32) -> Self {
        Self::start_logging(binary, orders, None)
    }

    /// As [`KeptDemo::start`], with `RUST_LOG` set to `filter` (its log
    /// is [`KeptDemo::log`]).
    ///
    /// # Panics
    /// When it does not start or prints no link in time.
    #[must_use]
    pub fn start_logging(binary: &str, orders: u32, filter: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::free_port();
        let log = dir.path().join("demo.stderr");
        let stderr = std::fs::File::create(&log).expect("a file for the demo's stderr");
        let mut command = Command::new(binary);
        // The tests' own SWITCHYARD_* settings (screenshots, backend) are
        // not the demo's configuration, which refuses unknown keys.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SWITCHYARD_") {
                command.env_remove(key);
            }
        }
        match filter {
            Some(f) => command.env("RUST_LOG", f),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command
            .args(["demo", "--keep-running", "--pace-ms", "0"])
            .args(["--orders", &orders.to_string()])
            .args(["--port", &port.to_string()])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the switchyard binary runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let line = line.trim();
                if let Some(link) = line.strip_prefix("Open the console: ") {
                    let _ = tx.send(("link", link.to_owned()));
                }
                if let Some((_, token)) = line
                    .strip_prefix("export SY=")
                    .and_then(|rest| rest.split_once(" TOKEN="))
                {
                    let _ = tx.send(("token", token.to_owned()));
                }
            }
        });
        let mut demo = Self {
            base: format!("http://127.0.0.1:{port}"),
            link: String::new(),
            token: String::new(),
            log,
            _dir: dir,
            child,
        };
        while demo.link.is_empty() || demo.token.is_empty() {
            let (what, value) = rx
                .recv_timeout(Duration::from_secs(240))
                .unwrap_or_else(|e| {
                    panic!(
                        "the kept demo printed no console link and token ({e}); it said: {}",
                        demo.log()
                    )
                });
            if what == "link" {
                demo.link = value;
            } else {
                demo.token = value;
            }
        }
        demo
    }

    /// What it has logged so far (its standard error).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
