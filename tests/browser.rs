//! The System Chat page in a real browser: serves the system_echo example app on an
//! ephemeral port and runs `tests/browser/system_echo.mjs` (playwright-core driving
//! the system Chromium) against it.
//!
//! Needs Chromium (`CHROMIUM`, else `/usr/bin/chromium`), `node`, and
//! `npm ci --prefix tests/browser`. Without them the test says why and passes, unless
//! `CHANX_REQUIRE_BROWSER=1`, which turns a missing piece into a failure.

#[path = "../examples/system_echo/app.rs"]
mod app;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::process::Command;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Chromium, `node` and the script's dependencies, or why they cannot be used.
async fn prerequisites(dir: &Path) -> Result<PathBuf, String> {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.is_file() {
        return Err(format!("no Chromium at {} (set CHROMIUM or install chromium)", chromium.display()));
    }
    match Command::new("node").arg("--version").stdin(Stdio::null()).output().await {
        Ok(output) if output.status.success() => {}
        Ok(output) => return Err(format!("`node --version` failed: {}", output.status)),
        Err(error) => return Err(format!("cannot run node: {error}")),
    }
    let playwright = dir.join("node_modules/playwright-core");
    if !playwright.is_dir() {
        return Err(format!("{} is missing (run `npm ci --prefix tests/browser`)", playwright.display()));
    }
    Ok(chromium)
}

#[tokio::test]
async fn system_echo_page_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = match prerequisites(&dir).await {
        Ok(chromium) => chromium,
        Err(reason) => {
            let required =
                std::env::var("CHANX_REQUIRE_BROWSER").is_ok_and(|v| matches!(v.as_str(), "1" | "true"));
            assert!(!required, "browser test required (CHANX_REQUIRE_BROWSER) but: {reason}");
            println!("skipping browser test: {reason}");
            return;
        }
    };

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, app::router()).await });

    let url = format!("http://{addr}/");
    let mut command = Command::new("node");
    command
        .arg(dir.join("system_echo.mjs"))
        .arg(&url)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output()).await;
    server.abort();

    let output = match output {
        Ok(output) => output.expect("run node tests/browser/system_echo.mjs"),
        Err(_) => panic!("tests/browser/system_echo.mjs did not finish within {SCRIPT_TIMEOUT:?}"),
    };
    println!("--- system_echo.mjs stdout ---\n{}", String::from_utf8_lossy(&output.stdout));
    println!("--- system_echo.mjs stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "tests/browser/system_echo.mjs against {url} failed: {}", output.status);
}
