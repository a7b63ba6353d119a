//! `switchyard sim <channel> --port N --seed S` runs a simulator standalone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run(channel: &str, probe: &str) -> serde_json::Value {
    let port = switchyard_testkit::free_port();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args([
                "sim",
                channel,
                "--port",
                &port.to_string(),
                "--seed",
                "9",
                "--orders",
                "3",
            ])
            // Anywhere at all: the simulators carry what they need.
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The first line says where it listens once the socket is bound.
    let mut line = String::new();
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep reading what else it prints: a closed pipe would make its next
    // line fail and end it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let status: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/_sim/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["channel"], channel);
    assert_eq!(status["seed"], 9);
    assert_eq!(status["orders"], 3);
    // The channel API answers, and refuses a request without credentials.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{probe}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    status
}

#[tokio::test]
async fn the_shopify_simulator_runs_standalone() {
    let s = run("shopify", "/admin/api/2025-01/graphql.json").await;
    assert_eq!(s["schema_validation"], true);
}

#[tokio::test]
async fn the_woocommerce_simulator_runs_standalone() {
    run("woocommerce", "/wp-json/wc/v3/orders").await;
}

/// The README's first command: the demo runs the whole loop from any
/// directory, with the Shopify simulator, and every step succeeds (it
/// exits non-zero when stock does not converge or a step does not happen).
#[test]
fn the_demo_shows_the_whole_loop_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--orders", "4", "--pace-ms", "0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("unavailable"), "{text}");
    assert!(text.contains("Shopify"), "{text}");
    assert!(text.contains("stock converged    yes"), "{text}");
    assert!(
        text.contains("kit: 1 × SKU-00001 + 2 × SKU-00002 → min("),
        "{text}"
    );
    for line in [
        "  fulfilment ",
        "  3PL ",
        "  filter ",
        "  hold ",
        "  webhooks ",
    ] {
        assert!(text.contains(line), "no {line:?} line in:\n{text}");
    }
    assert!(text.contains("carrier ups (from the number)"), "{text}");
    assert!(text.contains("every signature verified"), "{text}");
    assert!(text.contains("excluded"), "{text}");
    assert!(text.contains("on hold by rule"), "{text}");
    assert!(text.contains("Next steps"), "{text}");
    assert!(text.contains("/stock/SKU-00003/explain"), "{text}");
}

/// `demo --keep-running` prints a console link that signs the demo
/// account's owner in, and the console shows the demo's store and
/// channels.
#[tokio::test]
async fn the_kept_demo_leads_to_the_console() {
    let demo = switchyard_testkit::demo::KeptDemo::start(env!("CARGO_BIN_EXE_switchyard"), 4);
    let port = demo.base.rsplit(':').next().unwrap().to_owned();
    {
        let link = demo.link.clone();
        assert!(
            link.starts_with(&format!(
                "http://127.0.0.1:{port}/console/set-password?link="
            )),
            "{link}"
        );
        let secret = link.rsplit('=').next().unwrap().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let done = client
            .post(format!("{base}/console/set-password"))
            .form(&[
                ("link", secret.as_str()),
                ("password", "demo password"),
                ("confirm", "demo password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 303);
        let cookie = done
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("sy_session="))
            .expect("signed in");
        let home = client
            .get(format!("{base}/console"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            home.contains("Demo store") && home.contains("owner@demo.switchyard.test"),
            "{home}"
        );
        let at = home.find("/console/stores/").unwrap();
        let path = &home[at..at + home[at..].find('"').unwrap()];
        let store = client
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            store.contains("Shopify") && store.contains("WooCommerce"),
            "{store}"
        );
    }
}
