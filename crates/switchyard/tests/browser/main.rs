//! The console in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, from Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs), against the real server on a random port.
//!
//! With `SWITCHYARD_SCREENSHOTS=DIR` set, each test saves a PNG of every
//! page it reaches there.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod channels;
mod console;
mod docs;
mod hosted;
mod products;
mod tour;

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A chromedriver on a free loopback port and one headless Chromium
/// session; both end when this is dropped.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    /// chromedriver, leading its own process group (Chromium's too).
    driver: std::process::Child,
    /// Chromium's profile, removed on drop.
    _profile: tempfile::TempDir,
    shots: Option<(std::path::PathBuf, String)>,
    count: usize,
}

impl Browser {
    /// Start chromedriver and a 1280×900 headless window. `name` prefixes
    /// the screenshots.
    pub async fn start(name: &str) -> Self {
        use std::os::unix::process::CommandExt as _;
        let port = switchyard_testkit::free_port();
        let profile = tempfile::tempdir().unwrap();
        // Its own process group, so that dropping the browser ends
        // chromedriver and every Chromium process it started, even when a
        // test fails before closing the session.
        let driver = std::process::Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian: apt-get install chromium chromium-driver; scripts/test installs them)");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let shots = std::env::var_os("SWITCHYARD_SCREENSHOTS")
                        .map(|d| (std::path::PathBuf::from(d), name.to_owned()));
                    if let Some((dir, _)) = &shots {
                        std::fs::create_dir_all(dir).unwrap();
                    }
                    return Self {
                        client,
                        driver,
                        _profile: profile,
                        shots,
                        count: 0,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session within 10 s: {last:?}");
    }

    /// Save a screenshot of the page as it is now (when asked to).
    pub async fn shot(&mut self, what: &str) {
        if let Some((dir, name)) = &self.shots {
            self.count += 1;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(
                dir.join(format!("{name}-{:02}-{what}.png", self.count)),
                png,
            )
            .unwrap();
        }
    }

    /// Save a screenshot of the whole page (the window stretched to the
    /// page's height for it), when asked to.
    pub async fn full_shot(&mut self, what: &str) {
        if self.shots.is_none() {
            return;
        }
        // The window's height is the page's plus what the window itself
        // takes (headless Chromium keeps room for its frame).
        let height = self
            .client
            .execute(
                "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900);
        let height = u32::try_from(height.clamp(900, 8000)).unwrap_or(900);
        self.client.set_window_size(1280, height).await.unwrap();
        self.shot(what).await;
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    /// The `href` of the first link matching `css`.
    pub async fn href(&self, css: &str) -> String {
        self.find(css)
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no href"))
    }

    /// The first element matching `css`, once it is there: a page that
    /// follows a click may still be loading, so it is looked for again for
    /// up to 5 s.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let mut last = None;
        for _ in 0..50 {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no {css} on {:?} after 5 s: {last:?}",
            self.client.current_url().await
        );
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let mut last = None;
        for _ in 0..50 {
            let e = self.find(css).await;
            match e.clear().await {
                Ok(()) => match e.send_keys(text).await {
                    Ok(()) => return,
                    Err(err) => last = Some(err),
                },
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot fill {css}: {last:?}");
    }

    /// Click the first element matching `css`; when the page it was
    /// found on is replaced before the click lands (the previous click's
    /// answer arriving), it is found again on the new page, for up to 5 s.
    pub async fn click(&self, css: &str) {
        let mut last = None;
        for _ in 0..50 {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot click {css}: {last:?}");
    }

    /// The text of the first element matching `css`, once the page that
    /// has it is there (a form's answer may still be loading): asked again
    /// for up to 5 s while it is missing or belongs to the page that left.
    pub async fn text(&self, css: &str) -> String {
        let mut last = None;
        for _ in 0..50 {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => match e.text().await {
                    Ok(t) => return t,
                    Err(err) => last = Some(err),
                },
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no {css} on {:?}: {last:?}",
            self.client.current_url().await
        );
    }

    /// Wait (up to 5 s) until the browser shows `path`; fails if it does not.
    pub async fn at(&self, path: &str) {
        let mut now = String::new();
        for _ in 0..50 {
            now = self.path().await;
            if now == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {path}, still on {now} after 5 s");
    }

    /// Wait (up to 5 s) until exactly `n` elements match `css`; returns
    /// them, or fails with how many there were.
    pub async fn count(&self, css: &str, n: usize) -> Vec<fantoccini::elements::Element> {
        let mut seen = 0;
        for _ in 0..50 {
            if let Ok(found) = self.client.find_all(Locator::Css(css)).await {
                seen = found.len();
                if seen == n {
                    return found;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} × {css}, saw {seen} after 5 s");
    }

    /// Wait (up to 5 s) until the browser has left `path`.
    pub async fn left(&self, path: &str) {
        for _ in 0..50 {
            if self.path().await != path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("still on {path} after 5 s");
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// End the browser session (the driver ends on drop).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let group = format!("-{}", self.driver.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
