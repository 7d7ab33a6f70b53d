//! Python Chanx's own client generator (`chanx generate-client`, PyPI `chanx[cli]==2.13.0`)
//! on chanx's AsyncAPI documents: it names a typed model for every payload (no
//! `dict[str, Any]`), and the client it generates from the System Echo document talks
//! to a running chanx server.
//!
//! Ignored unless run with `--include-ignored`: they need `CHANX_PYTHON`, a Python with
//! `chanx[cli]==2.13.0` (`.ci/run` makes one); the generator is the `chanx` command next
//! to it.

mod common;

use std::path::{Path, PathBuf};

use chanx::asyncapi::AsyncApi;
use common::python::chanx_python;
use common::{authenticated, background_jobs, room_chat, serve, showcase, system_echo, topics};
use tokio::process::Command;

/// Every example app's document.
fn documents() -> Vec<(&'static str, AsyncApi)> {
    vec![
        ("system_echo", system_echo::asyncapi(AsyncApi::new())),
        ("room_chat", room_chat::asyncapi(AsyncApi::new())),
        ("background_jobs", background_jobs::asyncapi(AsyncApi::new())),
        ("showcase", showcase::asyncapi(AsyncApi::new())),
        ("authenticated", authenticated::asyncapi(AsyncApi::new())),
        ("topics", topics::asyncapi(AsyncApi::new())),
    ]
}

/// Runs the generator on `document`; returns the generated package's folder.
async fn generate(name: &str, document: &AsyncApi) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-generator").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder for the generated client");
    let schema = dir.join("asyncapi.json");
    document.write(&schema).expect("the document is written");
    let generator = Path::new(&chanx_python()).with_file_name("chanx");
    let output = Command::new(&generator)
        .arg("generate-client")
        .arg("--schema")
        .arg(&schema)
        .arg("--output")
        .arg(dir.join("client"))
        .arg("--no-format")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {} (chanx[cli] next to CHANX_PYTHON): {e}", generator.display())
        });
    assert!(output.status.success(), "generate-client failed: {}", String::from_utf8_lossy(&output.stderr));
    dir
}

#[tokio::test]
#[ignore = "needs Python Chanx's CLI: set CHANX_PYTHON to a Python with chanx[cli]==2.13.0"]
async fn the_generator_makes_a_typed_model_of_every_payload() {
    for (name, document) in documents() {
        let dir = generate(name, &document).await;
        let json = document.document().expect("a document");
        let free_form = free_form_payloads(&json);
        let mut untyped = Vec::new();
        for messages in find(&dir.join("client"), "messages.py") {
            let text = std::fs::read_to_string(&messages).expect("read the generated models");
            let mut model = "";
            for line in text.lines() {
                if let Some(class) = line.strip_prefix("class ") {
                    model = class.split(['(', ':']).next().unwrap_or_default();
                } else if line.trim_start().starts_with("payload: dict[str, Any]")
                    && !free_form.contains(&model)
                {
                    untyped.push(format!("{}: {model}", messages.display()));
                }
            }
        }
        assert!(untyped.is_empty(), "{name}: payloads without a model:\n{}", untyped.join("\n"));
    }
}

/// The messages whose payload is a free-form object by design (`serde_json::Map`, as
/// the tutorial's `job_status`): a map is the right model for them.
fn free_form_payloads(document: &serde_json::Value) -> Vec<&str> {
    let schemas = document["components"]["schemas"].as_object().expect("component schemas");
    schemas
        .iter()
        .filter(|(_, schema)| {
            let payload = &schema["properties"]["payload"];
            payload["type"] == "object"
                && payload.get("properties").is_none()
                && payload.get("$ref").is_none()
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

#[tokio::test]
#[ignore = "needs Python Chanx's CLI: set CHANX_PYTHON to a Python with chanx[cli]==2.13.0"]
async fn the_generated_client_talks_to_a_chanx_server() {
    let dir = generate("system_echo_client", &system_echo::asyncapi(AsyncApi::new())).await;
    let addr = serve(system_echo::router()).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/python/generated_client.py");
    let output = Command::new(chanx_python())
        .arg(script)
        .arg(&dir)
        .arg("client")
        .arg(format!("ws://{addr}"))
        .output()
        .await
        .expect("run the generated client");
    assert!(
        output.status.success(),
        "the generated client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let received: serde_json::Value = serde_json::from_slice(&output.stdout).expect("its report, as JSON");
    assert_eq!(
        received,
        serde_json::json!([
            {"type": "SystemEchoMessage", "payload_type": "MessagePayload", "message": "🔧 System: Connection established!"},
            {"type": "SystemEchoMessage", "payload_type": "MessagePayload", "message": "🔧 System Echo: from the generated client"},
        ])
    );
}

/// The files named `name` under `dir`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the generated folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find(&path, name));
        } else if path.file_name().is_some_and(|file| file == name) {
            found.push(path);
        }
    }
    found
}
