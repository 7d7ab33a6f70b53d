//! The tutorial page in a real browser: serves the full example app (System Echo, Room
//! Chat, Background Jobs, Showcase) and, for the "not available" states, the System Echo
//! app alone, each on an ephemeral port, and runs `tests/browser/tutorial.mjs`
//! (playwright-core driving the system Chromium) against them, and
//! `tests/browser/showcase.mjs` for the Showcase panel; serves the Authenticated app and runs
//! `tests/browser/authenticated.mjs` against it; serves the Topics app and runs
//! `tests/browser/topics.mjs` against it. Also the AsyncAPI docs page (`/asyncapi`)
//! of the System Echo app, with the React component served by the app from
//! `tests/browser/node_modules/@asyncapi/react-component` (no internet), checked by
//! `tests/browser/asyncapi_docs.mjs`; with the feature `docs-embedded`, the same page with
//! the component embedded in the test binary (the default then). And the page's fallback,
//! checked by `tests/browser/asyncapi_fallback.mjs`: with the component from the CDN and
//! no internet, or a CDN answer that fails its integrity check, or a component that
//! throws, the page links to `asyncapi.json` and `asyncapi.yaml` instead.
//!
//! Needs Chromium (`CHROMIUM`, else `/usr/bin/chromium`), `node`, and
//! `npm ci --prefix tests/browser`, so the tests are ignored (with that reason in
//! `cargo test`'s summary) unless run with `--include-ignored`; then a missing piece is a
//! failure that says what to install.
//! `SCREENSHOT_DIR=dir` saves a screenshot of each tab and of the docs page there.

#[path = "../examples/authenticated/app.rs"]
mod authenticated;
#[path = "../examples/background_jobs/app.rs"]
mod background_jobs;
#[path = "../examples/showcase/events.rs"]
mod events;
#[path = "../examples/background_jobs/jobs.rs"]
mod jobs;
#[path = "../examples/background_jobs/queue.rs"]
mod queue;
// Only the in-memory table is used here.
#[allow(dead_code)]
#[path = "../examples/common/layers.rs"]
mod layers;
#[path = "../examples/room_chat/app.rs"]
mod room_chat;
#[path = "../examples/topics/rooms.rs"]
mod rooms;
#[path = "../examples/showcase/app.rs"]
mod showcase;
#[path = "../examples/system_echo/app.rs"]
mod system_echo;
#[path = "../examples/topics/app.rs"]
mod topics;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use chanx::asyncapi::{AsyncApi, DocsAssets};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

const SCRIPT: &str = "tutorial.mjs";
const AUTH_SCRIPT: &str = "authenticated.mjs";
const SHOWCASE_SCRIPT: &str = "showcase.mjs";
const TOPICS_SCRIPT: &str = "topics.mjs";
const DOCS_SCRIPT: &str = "asyncapi_docs.mjs";
const FALLBACK_SCRIPT: &str = "asyncapi_fallback.mjs";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// The installed AsyncAPI React component, in `tests/browser`.
const REACT_COMPONENT: &str = "node_modules/@asyncapi/react-component";

/// Chromium, `node` and the scripts' dependencies, or why they cannot be used.
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

/// Why the tests of this file are ignored by default.
const NEEDS: &str = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored";

/// The folder of `tests/browser`, and Chromium; fails with what is missing.
async fn browser() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    match prerequisites(&dir).await {
        Ok(chromium) => (dir, chromium),
        Err(reason) => panic!("{NEEDS}: {reason}"),
    }
}

/// Runs `node tests/browser/<script> <args>` with Chromium and prints its output; `Err`
/// unless it succeeds within [`SCRIPT_TIMEOUT`].
async fn run_script(dir: &Path, script: &str, args: &[&str], chromium: &Path) -> Result<(), String> {
    let mut command = Command::new("node");
    command
        .arg(dir.join(script))
        .args(args)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(SCRIPT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("run node tests/browser/{script}: {error}")),
        Err(_) => return Err(format!("tests/browser/{script} did not finish within {SCRIPT_TIMEOUT:?}")),
    };
    println!("--- {script} stdout ---\n{}", String::from_utf8_lossy(&output.stdout));
    println!("--- {script} stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("tests/browser/{script} against {args:?} failed: {}", output.status))
    }
}

/// The tutorial document before the apps add their consumers (fixed texts).
fn tutorial_docs() -> AsyncApi {
    AsyncApi::new().title("Chanx tutorial").version("0.1.0").description("The Chanx tutorial app, in Rust.")
}

/// The whole tutorial app, as the showcase example serves it (jobs run at once), with its
/// AsyncAPI endpoints.
fn full_app() -> Router {
    let layers = layers::in_memory();
    let settings = chanx::Settings::default().layers(layers.clone());
    let pool =
        queue::WorkerPool::start(2, jobs::Delays { scale: 0.0 }, &layers).expect("the examples' layers");
    let docs = showcase::asyncapi(tutorial_docs()).routes();
    showcase::router(Arc::new(pool)).merge(docs).layer(Extension(settings))
}

/// Serves `router` with `chanx::serve` on an ephemeral port; returns its base URL and the
/// server task.
async fn serve(router: Router) -> (String, JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    (format!("http://{addr}/"), tokio::spawn(async move { chanx::serve(listener, router).await }))
}

#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn tutorial_page_in_chromium() {
    let (dir, chromium) = browser().await;
    let (url, full) = serve(full_app()).await;
    let (system_only_url, system_only) = serve(system_echo::router()).await;
    let result = run_script(&dir, SCRIPT, &[&url, &system_only_url], &chromium).await;
    full.abort();
    system_only.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn showcase_panel_in_chromium() {
    let (dir, chromium) = browser().await;
    let (url, server) = serve(full_app()).await;
    let result = run_script(&dir, SHOWCASE_SCRIPT, &[&url], &chromium).await;
    server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn authenticated_panel_in_chromium() {
    let (dir, chromium) = browser().await;
    let app = authenticated::router().merge(authenticated::asyncapi(tutorial_docs()).routes());
    let (url, server) = serve(app).await;
    let result = run_script(&dir, AUTH_SCRIPT, &[&url], &chromium).await;
    server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn topics_panel_in_chromium() {
    let (dir, chromium) = browser().await;
    let (url, server) = serve(topics::router().merge(topics::asyncapi(tutorial_docs()).routes())).await;
    let result = run_script(&dir, TOPICS_SCRIPT, &[&url], &chromium).await;
    server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

/// The System Echo app with its AsyncAPI endpoints, the docs page loading the React
/// component from the app (`DocsAssets::Local`).
fn docs_app(dir: &Path) -> Router {
    let docs = tutorial_docs().docs_assets(DocsAssets::Local(dir.join(REACT_COMPONENT)));
    system_echo::router().merge(system_echo::asyncapi(docs).routes())
}

/// `tests/browser` and Chromium, with the installed React component; fails with what is
/// missing.
async fn browser_with_component() -> (PathBuf, PathBuf) {
    let (dir, chromium) = browser().await;
    let component = dir.join(REACT_COMPONENT);
    assert!(
        component.join("browser/standalone/index.js").is_file(),
        "{NEEDS}: {} is missing",
        component.display()
    );
    (dir, chromium)
}

#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn asyncapi_docs_page_in_chromium() {
    let (dir, chromium) = browser_with_component().await;
    let (url, server) = serve(docs_app(&dir)).await;
    let result = run_script(&dir, DOCS_SCRIPT, &[&format!("{url}asyncapi")], &chromium).await;
    server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

/// The docs page says the viewer could not be loaded and links to the document: with the
/// component from the CDN (the routes nested under `/api`, so that the links must follow
/// the page), which this closed network cannot reach, and with a component that throws.
#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn asyncapi_docs_fallback_in_chromium() {
    let (dir, chromium) = browser_with_component().await;
    let cdn = system_echo::asyncapi(tutorial_docs().docs_assets(DocsAssets::Cdn)).routes();
    let (cdn_url, cdn_server) = serve(Router::new().nest("/api", cdn)).await;
    let (local_url, local_server) = serve(docs_app(&dir)).await;
    let pages = [format!("{cdn_url}api/asyncapi"), format!("{local_url}asyncapi")];
    let result = run_script(&dir, FALLBACK_SCRIPT, &[&pages[0], &pages[1]], &chromium).await;
    cdn_server.abort();
    local_server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

/// The docs page with the component the test binary embeds: the default with the
/// `docs-embedded` feature, served under a versioned path.
#[cfg(feature = "docs-embedded")]
#[tokio::test]
#[ignore = "needs Chromium, Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn embedded_docs_page_in_chromium() {
    let (dir, chromium) = browser().await;
    let app = system_echo::router().merge(system_echo::asyncapi(tutorial_docs()).routes());
    let (url, server) = serve(app).await;
    let assets = format!("asyncapi/assets/{}", chanx::asyncapi::REACT_COMPONENT_VERSION);
    let result = run_script(&dir, DOCS_SCRIPT, &[&format!("{url}asyncapi"), &assets], &chromium).await;
    server.abort();
    result.unwrap_or_else(|error| panic!("{error}"));
}

/// Shows in the summary that the embedded docs page test needs the feature.
#[cfg(not(feature = "docs-embedded"))]
#[test]
#[ignore = "needs the feature docs-embedded: npm ci --prefix tests/browser, then cargo test --features docs-embedded"]
fn embedded_docs_page_in_chromium() {
    panic!("build the tests with `--features docs-embedded` (after `npm ci --prefix tests/browser`)");
}
