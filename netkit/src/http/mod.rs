//! [`HttpTarget`]: an in-process HTTP/1.1 server (hyper 1 on tokio) for the
//! load generators to hit.
//!
//! netbench serves it as its HTTP target (`netbench serve-http`); tests use
//! it through `testkit::http`. It owns its tokio runtime on a background
//! thread, so callers need no async code: `HttpTarget::start_on(addr)` in a
//! plain `main`, `#[test]` or `std::thread`.
//! Keep-alive and pipelining are on; thousands of concurrent connections are
//! fine (backlog 4096, open-file limit raised). Dropping it stops accepting,
//! lets idle connections close gracefully (bounded wait) and joins the thread.
//!
//! Routes ([`routes`]): `/` small body, `/bytes/N`, `/status/NNN`, `/echo`,
//! `/delay/MS`; anything else 404. Optional server-wide stall windows
//! ([`stall`]) hold every response for `stall_for` once every `stall_every`.

pub mod routes;
pub mod stall;

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use routes::{Route, SMALL_BODY};
pub use stall::Stall;

/// How long drop waits for in-flight requests before cutting connections.
const GRACE: Duration = Duration::from_secs(1);
/// Listen backlog: a burst of `wrk -c 1k` connects must not overflow it.
const BACKLOG: i32 = 4096;
/// Bodies up to this size are slices of one shared buffer (no copy).
const SHARED_FILL: usize = 1 << 20;

/// How to start an [`HttpTarget`] ([`HttpTarget::try_start_with`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Listen address; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Runtime worker threads (1..=4). Default 2.
    pub workers: usize,
    /// Start a stall window every this often (None: never stall).
    pub stall_every: Option<Duration>,
    /// Length of each stall window.
    pub stall_for: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            workers: 2,
            stall_every: None,
            stall_for: Duration::from_secs(1),
        }
    }
}

/// A running in-process HTTP server; stops on drop.
#[derive(Debug)]
pub struct HttpTarget {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// State shared by all connections.
#[derive(Debug)]
struct Shared {
    started: Instant,
    stall: Option<Stall>,
    fill: Bytes,
    requests: AtomicU64,
    connections: AtomicU64,
}

impl HttpTarget {
    /// Start on `addr` (e.g. `[::1]:0` or a fixed port inside a namespace).
    pub fn start_on(addr: SocketAddr) -> io::Result<HttpTarget> {
        Self::try_start_with(Options {
            addr,
            ..Options::default()
        })
    }

    /// Start with `opts`, reporting failures.
    pub fn try_start_with(opts: Options) -> io::Result<HttpTarget> {
        crate::sys::raise_fd_limit();
        let std_listener = bind(opts.addr)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.workers.clamp(1, 4))
            .thread_name("http-target")
            .enable_all()
            .build()?;
        let listener = {
            let _enter = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared {
            started: Instant::now(),
            stall: opts.stall_every.map(|every| Stall {
                every,
                length: opts.stall_for,
            }),
            fill: Bytes::from(vec![b'x'; SHARED_FILL]),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        });
        let (shutdown, rx) = watch::channel(false);
        let serve_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("http-target-{addr}"))
            .spawn(move || {
                runtime.block_on(serve(listener, serve_shared, rx));
                runtime.shutdown_timeout(Duration::from_millis(500));
            })?;
        Ok(HttpTarget {
            addr,
            shared,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>` (IPv6 in brackets); a missing leading `/` is added.
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.addr)
    }

    /// Requests answered so far (all routes, including 404s).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stop now (same as dropping).
    pub fn stop(self) {}
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bind with a large backlog (std's `bind` uses 128).
fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    conns.spawn(connection(stream, Arc::clone(&shared), shutdown.clone()));
                }
                // EMFILE and friends: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connection tasks so the set stays small.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let svc = service_fn(move |req| handle(req, Arc::clone(&shared)));
    let conn = http1::Builder::new()
        .keep_alive(true)
        .pipeline_flush(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            // Idle connections close at once; busy ones finish the response.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once shutdown was requested (the watch `Ref` is not `Send`, so
/// it must not live across the select).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let route = routes::route(req.uri().path());
    let response = match route {
        Route::Small => text(StatusCode::OK, Bytes::from_static(SMALL_BODY)),
        Route::Bytes(n) => {
            let body = if n <= shared.fill.len() {
                shared.fill.slice(..n)
            } else {
                Bytes::from(vec![b'x'; n])
            };
            binary(body)
        }
        Route::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            let body = if code == 204 || code == 304 {
                Bytes::new()
            } else {
                Bytes::from(format!("status {code}\n"))
            };
            text(status, body)
        }
        Route::Echo => {
            let ctype = req.headers().get(CONTENT_TYPE).cloned();
            match req.into_body().collect().await {
                Ok(body) => {
                    let mut r = binary(body.to_bytes());
                    if let Some(ct) = ctype {
                        r.headers_mut().insert(CONTENT_TYPE, ct);
                    }
                    r
                }
                Err(_) => text(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad body\n")),
            }
        }
        Route::Delay(d) => {
            tokio::time::sleep(d).await;
            text(StatusCode::OK, Bytes::from_static(SMALL_BODY))
        }
        Route::BadRequest => text(
            StatusCode::BAD_REQUEST,
            Bytes::from_static(b"bad request\n"),
        ),
        Route::NotFound => text(StatusCode::NOT_FOUND, Bytes::from_static(SMALL_BODY)),
    };
    if let Some(stall) = shared.stall {
        let hold = stall.hold(shared.started.elapsed());
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
    }
    shared.requests.fetch_add(1, Ordering::Relaxed);
    Ok(response)
}

fn text(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain")
}

fn binary(body: Bytes) -> Response<Full<Bytes>> {
    with_type(StatusCode::OK, body, "application/octet-stream")
}

fn with_type(status: StatusCode, body: Bytes, ctype: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}
