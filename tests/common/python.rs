//! Python Chanx processes for the interop tests: the Python of `CHANX_PYTHON` running
//! `tests/interop/python/app.py`, served by uvicorn or as a one-shot worker.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use super::redis::redis_url;

/// How long a Python process may take to start (its imports included), or a worker to
/// finish.
pub const PYTHON_WAIT: Duration = Duration::from_secs(30);

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/python/app.py");

/// `CHANX_PYTHON`: a Python with Chanx and its dependencies, as `.ci/run` installs them.
pub fn chanx_python() -> String {
    std::env::var("CHANX_PYTHON").expect(
        "CHANX_PYTHON: a Python with chanx[fast-channels]==2.13.0, fast-channels[redis]==1.1.0 \
         and uvicorn (`.ci/run` makes one)",
    )
}

/// The layer a Python Chanx app uses: app.py's `--layer` (`pubsub`, `queue`) and
/// `--prefix`, on `REDIS_URL`.
#[derive(Debug, Clone, Copy)]
pub struct PythonLayer<'a> {
    pub kind: &'a str,
    pub prefix: &'a str,
}

fn app_command(layer: PythonLayer<'_>, args: &[&str]) -> Command {
    let python = chanx_python();
    let mut command = Command::new(&python);
    command
        .arg(APP)
        .args(args)
        .args(["--redis", &redis_url(), "--prefix", layer.prefix, "--layer", layer.kind])
        .kill_on_drop(true);
    command
}

/// The Python Chanx app served by uvicorn on a free loopback port, killed when dropped.
pub struct PythonApp {
    pub addr: SocketAddr,
    _process: Child,
}

impl PythonApp {
    /// Starts it and reads its port; the socket listens from then on, so a client
    /// connecting at once is answered as soon as uvicorn has started.
    pub async fn start(layer: PythonLayer<'_>) -> PythonApp {
        let mut process = app_command(layer, &["serve"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run CHANX_PYTHON={}: {e}", chanx_python()));
        let stdout = process.stdout.take().expect("piped stdout");
        let line = timeout(PYTHON_WAIT, BufReader::new(stdout).lines().next_line())
            .await
            .expect("the Python app prints its port within the wait")
            .expect("reads its output")
            .expect("the Python app printed its port (see its stderr above)");
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("expected {{\"port\": N}}, got {line}"));
        PythonApp { addr: SocketAddr::from(([127, 0, 0, 1], port)), _process: process }
    }
}

/// Runs app.py as a worker (`send-event CHANNEL TEXT`, `broadcast-event GROUP TEXT`)
/// and waits for it to succeed.
pub async fn python_worker(layer: PythonLayer<'_>, args: &[&str]) {
    let status = timeout(PYTHON_WAIT, app_command(layer, args).status())
        .await
        .expect("the Python worker ends within the wait")
        .expect("runs CHANX_PYTHON");
    assert!(status.success(), "the Python worker {args:?} failed ({status}), see its stderr above");
}
