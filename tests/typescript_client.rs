//! The TypeScript client generator, `clients/typescript/generate.mjs`: the module it
//! generates from each example app's AsyncAPI document compiles with `tsc --strict`
//! (also without the DOM library, and with only erasable syntax, as Node's type stripping
//! needs); and generated clients, compiled to JavaScript, drive the tutorial app and the
//! Topics app under Node (`clients/typescript/test/*.mjs`, on the `ws` package): requests
//! answered by `ref`, many in flight, an `error` frame rejecting, a timeout, broadcasts and
//! events, topic subscriptions and pushes, a reconnection that subscribes again. Those two
//! generate their client from the running app's URL.
//!
//! Needs `node` and `npm ci --prefix clients/typescript`, so the tests are ignored (with
//! that reason in `cargo test`'s summary) unless run with `--include-ignored`; then a
//! missing piece is a failure that says what to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use chanx::asyncapi::AsyncApi;
use common::{authenticated, background_jobs, jobs, layers, queue, room_chat, showcase, system_echo, topics};
use tokio::process::Command;

/// Why the tests of this file are ignored by default.
const NEEDS: &str = "needs Node.js and `npm ci --prefix clients/typescript`: run with --include-ignored";
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// `clients/typescript`, with its npm packages installed; fails with what is missing.
async fn generator() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/typescript");
    match Command::new("node").arg("--version").stdin(Stdio::null()).output().await {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("{NEEDS}: `node --version` failed: {}", output.status),
        Err(error) => panic!("{NEEDS}: cannot run node: {error}"),
    }
    for package in ["json-schema-to-typescript", "prettier", "typescript", "ws"] {
        let path = dir.join("node_modules").join(package);
        assert!(path.is_dir(), "{NEEDS}: {} is missing", path.display());
    }
    dir
}

/// A fresh folder for one test's files, under Cargo's temporary folder for tests.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript_client").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's folder");
    dir
}

/// Runs `program args` in `dir` and prints its output; fails unless it succeeds within
/// [`NODE_TIMEOUT`].
async fn run(dir: &Path, program: &str, args: &[&str]) {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir).stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(NODE_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => panic!("run {program} {args:?}: {error}"),
        Err(_) => panic!("{program} {args:?} did not finish within {NODE_TIMEOUT:?}"),
    };
    println!("--- {program} {args:?} ---\n{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {args:?} failed: {}", output.status);
}

/// `node generate.mjs source -o out`.
async fn generate(dir: &Path, source: &str, out: &Path) {
    run(dir, "node", &["generate.mjs", source, "-o", &out.to_string_lossy()]).await;
}

/// The pinned `tsc`, with `args` after `--strict --erasableSyntaxOnly`.
async fn tsc(dir: &Path, args: &[&str]) {
    let tsc = dir.join("node_modules/.bin/tsc");
    run(dir, &tsc.to_string_lossy(), &[&["--strict", "--erasableSyntaxOnly"], args].concat()).await;
}

fn docs() -> AsyncApi {
    AsyncApi::new().title("Chanx tutorial").version("0.1.0").description("The Chanx tutorial app, in Rust.")
}

#[tokio::test]
#[ignore = "needs Node.js and `npm ci --prefix clients/typescript`: run with --include-ignored"]
async fn every_example_document_compiles_strictly() {
    let dir = generator().await;
    let out = scratch("examples");
    let documents = [
        ("system_echo", system_echo::asyncapi(docs())),
        ("room_chat", room_chat::asyncapi(docs())),
        ("background_jobs", background_jobs::asyncapi(docs())),
        ("showcase", showcase::asyncapi(docs())),
        ("authenticated", authenticated::asyncapi(docs())),
        ("topics", topics::asyncapi(docs())),
    ];
    let mut modules = Vec::new();
    for (name, document) in documents {
        let json = out.join(format!("{name}.json"));
        std::fs::write(&json, document.to_json().expect("the example's document"))
            .expect("write the document");
        let module = out.join(format!("{name}.ts"));
        generate(&dir, &json.to_string_lossy(), &module).await;
        modules.push(module.to_string_lossy().into_owned());
    }
    let modules: Vec<&str> = modules.iter().map(String::as_str).collect();
    tsc(&dir, &[&["--noEmit"], &modules[..]].concat()).await;
    tsc(&dir, &[&["--noEmit", "--lib", "es2022"], &modules[..]].concat()).await;
}

/// Generates the client of the app at `addr` from its URL, compiles it to JavaScript and
/// runs `test/<script>` with it against the app.
async fn drive(test: &str, addr: std::net::SocketAddr, script: &str) {
    let dir = generator().await;
    let out = scratch(test);
    let module = out.join("client.mts");
    generate(&dir, &format!("http://{addr}/"), &module).await;
    let out_dir = out.to_string_lossy();
    let options = ["--target", "es2022", "--module", "nodenext", "--outDir", &out_dir];
    tsc(&dir, &[&options[..], &[&module.to_string_lossy()]].concat()).await;
    let compiled = out.join("client.mjs");
    run(&dir, "node", &[&format!("test/{script}"), &compiled.to_string_lossy(), &format!("ws://{addr}")])
        .await;
}

#[tokio::test]
#[ignore = "needs Node.js and `npm ci --prefix clients/typescript`: run with --include-ignored"]
async fn tutorial_app_through_its_generated_client() {
    let layers = layers::in_memory();
    let settings = chanx::Settings::default().layers(layers.clone());
    let pool =
        queue::WorkerPool::start(2, jobs::Delays { scale: 0.0 }, &layers).expect("the examples' layers");
    let app: Router = background_jobs::router(Arc::new(pool))
        .merge(background_jobs::asyncapi(docs()).routes())
        .layer(Extension(settings));
    drive("tutorial", common::serve(app).await, "tutorial.mjs").await;
}

#[tokio::test]
#[ignore = "needs Node.js and `npm ci --prefix clients/typescript`: run with --include-ignored"]
async fn topics_app_through_its_generated_client() {
    let app = topics::router().merge(topics::asyncapi(docs()).routes());
    drive("topics", common::serve(app).await, "topics.mjs").await;
}
