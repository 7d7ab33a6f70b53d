//! Serving an app: [`serve`] runs an axum `Router` over HTTP/1.1 with the timeouts and
//! limits a public server needs, and a graceful shutdown on Ctrl-C or SIGTERM;
//! [`init_logging`] sets up logging to stderr.
//!
//! `axum::serve` has no header-read timeout, so clients that send their request slowly
//! (or not at all) hold their connections, and file descriptors, for ever; and its
//! graceful shutdown waits for them without a bound. [`serve`] drops such clients after
//! [`header_read_timeout`](Serve::header_read_timeout) and bounds the shutdown by
//! [`shutdown_timeout`](Serve::shutdown_timeout).

use std::convert::Infallible;
use std::fmt;
use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use futures_util::FutureExt;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::log::{panic_text, throttled};
use crate::settings::Settings;

/// Default of [`Serve::header_read_timeout`].
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`Serve::max_header_bytes`].
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's smallest read buffer: a smaller [`Serve::max_header_bytes`] is raised to it.
const MIN_HEADER_BYTES: usize = 8 * 1024;
/// Default of [`Serve::shutdown_timeout`].
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the accept loop pauses after an error such as `EMFILE` (out of file
/// descriptors): retrying at once would spin, as the pending connection stays queued.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one log line per this period about failing accepts.
const ACCEPT_LOG_PERIOD: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until Ctrl-C or SIGTERM; configure it with the methods of
/// [`Serve`], then `.await` it.
///
/// Each connection speaks HTTP/1.1 (with WebSocket upgrades), with `TCP_NODELAY` set;
/// handlers can extract the client's address as `ConnectInfo<SocketAddr>`. A client
/// must send its request headers within [`header_read_timeout`](Serve::header_read_timeout)
/// (also the limit for an idle keep-alive connection) and within
/// [`max_header_bytes`](Serve::max_header_bytes). When the listener cannot accept (out
/// of file descriptors), the error is logged at most once a second and accepting
/// resumes shortly after.
///
/// On the shutdown signal it stops accepting, closes the chanx WebSockets of its
/// [`settings`](Serve::settings) with 1001, lets HTTP requests in progress finish, and
/// waits for all of it at most [`shutdown_timeout`](Serve::shutdown_timeout); what is
/// left then is dropped. The future resolves to `Ok` once it is all over; an error only
/// comes from reading the listener's address at the start.
///
/// ```no_run
/// use axum::Router;
/// use chanx::prelude::*;
///
/// #[derive(Default)]
/// pub struct PingConsumer;
///
/// #[channel(name = "ping")]
/// impl PingConsumer {
///     #[ws_handler]
///     async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
///
/// impl Consumer for PingConsumer {}
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     chanx::serve::init_logging();
///     let settings = Settings::default().send_completion(true);
///     let app = Router::new().route("/ws/ping", PingConsumer::route());
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
///     chanx::serve(listener, app).settings(settings).await
/// }
/// ```
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        listener,
        app,
        settings: Settings::default(),
        signal: None,
        header_read_timeout: HEADER_READ_TIMEOUT,
        max_header_bytes: MAX_HEADER_BYTES,
        shutdown_timeout: SHUTDOWN_TIMEOUT,
    }
}

/// A server being configured: made by [`serve`], run by `.await`.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    app: Router,
    settings: Settings,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    header_read_timeout: Duration,
    max_header_bytes: usize,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("settings", &self.settings)
            .field("custom_signal", &self.signal.is_some())
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// The chanx settings of the app: provided to its routes (as an axum `Extension`),
    /// and their [`Shutdown`](crate::Shutdown) handle triggered on the shutdown signal, so that open
    /// WebSockets get a 1001 close. Its [`handshake_timeout`](Settings::handshake_timeout)
    /// and [`max_header_bytes`](Settings::max_header_bytes) become this server's header
    /// read timeout and request-head limit (set them here after `settings` to differ).
    /// Without it, the routes get [`Settings::default()`] of this server's own (so two
    /// servers in one process never share a channel layer by accident). A route that
    /// sets its own `Extension(Settings)` keeps it.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.header_read_timeout = settings.handshake_timeout;
        self.max_header_bytes = settings.max_header_bytes.max(MIN_HEADER_BYTES);
        self.settings = settings;
        self
    }

    /// Shuts down when `signal` completes, instead of on Ctrl-C or (on Unix) SIGTERM.
    pub fn with_graceful_shutdown(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// How long a client may take to send its request headers, from the moment its
    /// connection is accepted or its previous response was sent; slower connections are
    /// closed. Default 10 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The largest request head (request line and headers) accepted, in bytes: hyper
    /// answers a larger one with 431 Request Header Fields Too Large and closes the
    /// connection. It is the size of hyper's read buffer, which cannot be less than
    /// 8 KiB: smaller values are raised to that. Default 32 KiB.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// After the shutdown signal, how long open HTTP connections and WebSockets may take
    /// to finish before they are dropped. Default 10 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            app,
            settings,
            signal,
            header_read_timeout,
            max_header_bytes,
            shutdown_timeout,
        } = self;
        let shutdown = settings.shutdown.clone();
        let mut signal = signal.unwrap_or_else(|| Box::pin(terminate_signal()));
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).max_buf_size(max_header_bytes);
        let closing = Arc::new(Closing::default());
        // Dropped before it returns (aborted, or the losing branch of a `select!`), the
        // server drops its HTTP connections too, as a `JoinSet` of them would, and as
        // the shutdown timeout does.
        let _dropped = closing.now.clone().drop_guard();
        // Not a `JoinSet`: its tasks wake the loop as each ends, a wake-up of the thread
        // that runs it (often not a worker) for every connection.
        let connections = TaskTracker::new();
        let mut accept_log = AcceptLog::default();
        tracing::info!("serving on http://{}/", listener.local_addr()?);

        loop {
            let accepted = tokio::select! {
                biased;
                accepted = listener.accept() => accepted,
                () = &mut signal => break,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => {
                    tracing::debug!(%error, "a connection failed before it was accepted");
                    continue;
                }
                Err(error) => {
                    if let Some(suppressed) = accept_log.should_log(Instant::now()) {
                        tracing::error!(%error, suppressed, "cannot accept connections; retrying");
                    }
                    match tokio::time::timeout(ACCEPT_BACKOFF, &mut signal).await {
                        Ok(()) => break,
                        Err(_) => continue,
                    }
                }
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, %remote, "cannot set TCP_NODELAY");
            }
            let connection = http
                .serve_connection(TokioIo::new(stream), AppService::new(&app, &settings, remote))
                .with_upgrades();
            // Boxed, as a WebSocket's task: moved as a pointer, not as its 1.5 KiB.
            connections.spawn(Box::pin(closing.clone().serve(connection, remote)));
        }

        drop(listener);
        let websockets = shutdown.open_connections();
        tracing::info!(
            "shutting down: {} HTTP connections and {websockets} WebSockets open",
            connections.len()
        );
        shutdown.trigger();
        closing.graceful.cancel();
        connections.close();
        let drained = tokio::time::timeout(shutdown_timeout, async {
            connections.wait().await;
            shutdown.connections_closed().await;
        })
        .await;
        if drained.is_err() {
            let http = connections.len();
            closing.now.cancel();
            connections.wait().await;
            let websockets = shutdown.open_connections();
            shutdown.drop_connections();
            shutdown.connections_closed().await;
            tracing::warn!(
                "shutdown timeout ({shutdown_timeout:?}) reached: dropped {http} HTTP connections \
                 and {websockets} WebSockets"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// One HTTP connection, which may become a WebSocket.
type HttpConnection = http1::UpgradeableConnection<TokioIo<TcpStream>, AppService>;

/// What the serve loop tells its HTTP connections at shutdown: finish the requests in
/// progress and close ([`graceful`](Closing::graceful)), then, once the shutdown timeout
/// is reached, stop at once ([`now`](Closing::now)).
struct Closing {
    /// A child of `now`: stopping at once also ends the graceful wait.
    graceful: CancellationToken,
    now: CancellationToken,
}

impl Default for Closing {
    fn default() -> Self {
        let now = CancellationToken::new();
        Closing { graceful: now.child_token(), now }
    }
}

impl Closing {
    /// Serves one HTTP connection to its end, or until the shutdown drops it; a panic
    /// in it (an axum handler's, say) is logged, not left to the panic hook alone.
    async fn serve(self: Arc<Self>, connection: HttpConnection, remote: SocketAddr) {
        let served = async {
            let mut connection = std::pin::pin!(connection);
            // Waited on, not read with `is_cancelled()` when the task starts: the signal
            // may come after.
            tokio::select! {
                result = connection.as_mut() => return result,
                () = self.graceful.cancelled() => {}
            }
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection => result,
                () = self.now.cancelled() => Ok(()),
            }
        };
        match AssertUnwindSafe(served).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, %remote, "connection ended with an error"),
            Err(panic) => {
                throttled!(error, %remote, panic = panic_text(&panic), "an HTTP connection's task panicked")
            }
        }
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// The app as the hyper service of one connection: the router, with the client's address
/// and the settings added to each request. (Added here rather than by an axum layer on
/// the router: a layer wraps every route, and axum clones a route's whole stack of
/// services for each request it routes.)
struct AppService {
    router: TowerToHyperService<Router>,
    settings: Settings,
    remote: SocketAddr,
}

impl AppService {
    fn new(app: &Router, settings: &Settings, remote: SocketAddr) -> Self {
        AppService { router: TowerToHyperService::new(app.clone()), settings: settings.clone(), remote }
    }
}

impl Service<Request<Incoming>> for AppService {
    type Response = Response;
    type Error = Infallible;
    type Future = TowerToHyperServiceFuture<Router, Request<Incoming>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(self.remote));
        extensions.insert(self.settings.clone());
        self.router.call(request)
    }
}

/// Errors of one connection that is gone, rather than of the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Rate limit of the accept-error log.
#[derive(Debug, Default)]
struct AcceptLog {
    /// When the last line was logged.
    last: Option<Instant>,
    /// Errors not logged since.
    suppressed: u64,
}

impl AcceptLog {
    /// Whether an error at `now` is logged: then `Some` of how many were not since the
    /// last line.
    fn should_log(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now.saturating_duration_since(last) < ACCEPT_LOG_PERIOD) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM. A signal that cannot be listened to is
/// logged and never fires.
async fn terminate_signal() {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("Ctrl-C received"),
            Err(error) => {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending().await
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
                tracing::info!("SIGTERM received");
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Logs to stderr, at the levels `RUST_LOG` asks for (default `info`), in colour only
/// when stderr is a terminal. Does nothing if the process already has a global
/// `tracing` subscriber. Requires the `logging` feature (on by default).
#[cfg(feature = "logging")]
pub fn init_logging() {
    use std::io::IsTerminal;

    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_logged_at_most_once_a_period() {
        let mut log = AcceptLog::default();
        let start = Instant::now();
        assert_eq!(log.should_log(start), Some(0));
        assert_eq!(log.should_log(start + ACCEPT_LOG_PERIOD / 2), None);
        assert_eq!(log.should_log(start + ACCEPT_LOG_PERIOD / 2), None);
        assert_eq!(log.should_log(start + ACCEPT_LOG_PERIOD), Some(2));
        assert_eq!(log.should_log(start + ACCEPT_LOG_PERIOD * 2), Some(0));
    }

    #[test]
    fn header_limit_is_at_least_hyper_minimum() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _entered = runtime.enter();
        let listener = TcpListener::from_std(listener).expect("a tokio listener");
        let server = serve(listener, Router::new()).max_header_bytes(100);
        assert_eq!(server.max_header_bytes, MIN_HEADER_BYTES);
    }
}
