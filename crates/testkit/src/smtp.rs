//! A mail sink on loopback that speaks just enough SMTP for a client to
//! hand it messages (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeping
//! each message for the test to read. It can refuse recipients, to test
//! what happens when the mail server says no.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the sink took.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope's recipients.
    pub to: Vec<String>,
    /// Headers and body as sent (dot-stuffing undone).
    pub data: String,
}

#[derive(Debug, Default)]
struct Shared {
    mails: Vec<Mail>,
    refuse: bool,
}

/// A running sink; it stops when dropped.
#[derive(Debug)]
pub struct Sink {
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    /// Listen on a free loopback port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("smtp://{}", listener.local_addr().expect("bound address"));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, s.clone()));
            }
        });
        Self { url, shared, task }
    }

    /// Answer 550 to every recipient from now on (or take them again).
    pub fn refuse(&self, refuse: bool) {
        self.lock().refuse = refuse;
    }

    /// The messages taken so far.
    #[must_use]
    pub fn mails(&self) -> Vec<Mail> {
        self.lock().mails.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn session(stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut to = Vec::new();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    // At most a few hundred commands per connection: the loop ends.
    for _ in 0..1000 {
        let Ok(Some(line)) = lines.next_line().await else {
            return;
        };
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                to.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                let refuse = shared.lock().map(|s| s.refuse).unwrap_or(false);
                if refuse {
                    b"550 5.1.1 mailbox unavailable\r\n"
                } else {
                    let addr = line
                        .split_once(':')
                        .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_owned())
                        .unwrap_or_default();
                    to.push(addr);
                    b"250 ok\r\n"
                }
            }
            "DATA" => {
                if write.write_all(b"354 end with .\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                loop {
                    let Ok(Some(l)) = lines.next_line().await else {
                        return;
                    };
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                if let Ok(mut s) = shared.lock() {
                    s.mails.push(Mail {
                        to: std::mem::take(&mut to),
                        data,
                    });
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}
