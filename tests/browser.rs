//! The tutorial page in a real browser: serves the full example app (System Echo, Room
//! Chat, Background Jobs) and, for the "not available" states, the System Echo app alone,
//! each on an ephemeral port, and runs `tests/browser/tutorial.mjs` (playwright-core
//! driving the system Chromium) against them.
//!
//! Needs Chromium (`CHROMIUM`, else `/usr/bin/chromium`), `node`, and
//! `npm ci --prefix tests/browser`. Without them the test says why and passes, unless
//! `CHANX_REQUIRE_BROWSER=1`, which turns a missing piece into a failure.
//! `SCREENSHOT_DIR=dir` saves a screenshot of each tab there.

#[path = "../examples/background_jobs/app.rs"]
mod app;
#[path = "../examples/background_jobs/jobs.rs"]
mod jobs;
#[path = "../examples/room_chat/app.rs"]
mod room_chat;
#[path = "../examples/system_echo/app.rs"]
mod system_echo;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

const SCRIPT: &str = "tutorial.mjs";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

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

/// The whole tutorial app, as the background_jobs example serves it (jobs run at once).
fn full_app() -> Router {
    let layers = chanx::layer::Layers::default();
    let settings = chanx::Settings::default().layers(layers.clone());
    let pool = jobs::WorkerPool::start(2, jobs::Delays { scale: 0.0 }, layers.default_layer());
    app::router(Arc::new(pool)).layer(Extension(settings))
}

/// Serves `router` on an ephemeral port; returns its base URL and the server task.
async fn serve(router: Router) -> (String, JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    (format!("http://{addr}/"), tokio::spawn(async move { axum::serve(listener, router).await }))
}

#[tokio::test]
async fn tutorial_page_in_chromium() {
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

    let (url, full) = serve(full_app()).await;
    let (system_only_url, system_only) = serve(system_echo::router()).await;
    let mut command = Command::new("node");
    command
        .arg(dir.join(SCRIPT))
        .arg(&url)
        .arg(&system_only_url)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output()).await;
    full.abort();
    system_only.abort();

    let output = match output {
        Ok(output) => output.unwrap_or_else(|error| panic!("run node tests/browser/{SCRIPT}: {error}")),
        Err(_) => panic!("tests/browser/{SCRIPT} did not finish within {SCRIPT_TIMEOUT:?}"),
    };
    println!("--- {SCRIPT} stdout ---\n{}", String::from_utf8_lossy(&output.stdout));
    println!("--- {SCRIPT} stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "tests/browser/{SCRIPT} against {url} failed: {}", output.status);
}
