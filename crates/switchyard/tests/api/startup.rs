//! `serve` with a database it cannot use stops at once with one clear line
//! and a non-zero exit, whatever is wrong with the URL.

use std::process::Command;

/// Run `switchyard serve` on `url` and return (success, stderr).
fn serve_on(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_database_that_cannot_be_used_is_one_line_and_a_failed_exit() {
    let cluster = switchyard_pgtest::cluster().unwrap();
    let cases = [
        (
            format!(
                "postgres://switchyard@127.0.0.1:{}/app",
                switchyard_testkit::free_port()
            ),
            "Connection refused",
        ),
        (cluster.url("no_such_database"), "does not exist"),
        (
            "mysql://127.0.0.1/app".to_owned(),
            "unsupported database URL",
        ),
        (
            "sqlite:///nonexistent-directory/switchyard.db".to_owned(),
            "unable to open database file",
        ),
    ];
    for (url, says) in cases {
        let (ok, stderr) = serve_on(&url);
        assert!(!ok, "{url}: serve must fail");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{url}: one line, got:\n{stderr}");
        assert!(lines[0].starts_with("error: "), "{url}: {stderr}");
        assert!(
            lines[0].contains(says),
            "{url}: expected `{says}` in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
    }
}
