//! Serving on hyper 1 + hyper-util: HTTP/1.1 and HTTP/2 cleartext, a header-read
//! timeout, and graceful shutdown.
//!
//! A handler runs to its end even when its HTTP/1 client hangs up meanwhile:
//! dropping it at an await could leave a change half made, and a client that
//! only half-closed (shut down its side once the request was sent) still
//! wants the answer. (hyper's `half_close`; it also spares every request that
//! awaits a fresh 8 KiB read buffer, which hyper's check for the client's
//! end of stream allocated while the request still held the old one.)
//! The price: a handler whose client left keeps its connection (a file
//! descriptor) until it ends, and holds a graceful shutdown for up to the
//! shutdown grace ([`crate::App::shutdown_grace`], 10 s by default), after
//! which `run_until` returns without it; so a handler that may wait long (a
//! long poll) should bound its wait with a timeout.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::body::RequestBody;
use crate::config::Config;
use crate::error::ServeError;
use crate::extract::ClientAddr;
use crate::service::AppService;

/// A bound, built app, ready to serve. Get one from [`crate::App::bind`].
///
/// # Examples
///
/// ```no_run
/// use uapi::{handler, App};
///
/// #[handler]
/// async fn hello() -> &'static str { "hello" }
///
/// # async fn run() -> Result<(), uapi::ServeError> {
/// let mut app = App::new();
/// app.get("/", hello);
/// let server = app.bind("127.0.0.1:0").await?;
/// println!("listening on {}", server.local_addr());
/// server.run_until(async { /* a shutdown signal */ }).await
/// # }
/// ```
pub struct Server {
    listener: Box<dyn Listener>,
    service: AppService,
    config: Config,
}

/// Where a [`Server`]'s connections come from: a bound
/// [`tokio::net::TcpListener`], or connections accepted elsewhere and handed
/// over (what `Workers` does). Give one to [`crate::App::bind_listener`].
///
/// # Examples
///
/// Connections accepted on another thread travel as `std::net::TcpStream`s and
/// become tokio's on the runtime that serves them (a tokio socket belongs to the
/// runtime that registered it):
///
/// ```
/// use std::io;
/// use std::net::SocketAddr;
/// use std::task::{Context, Poll};
/// use tokio::net::TcpStream;
///
/// /// Connections that another thread accepted, sent over a channel.
/// struct Handed {
///     addr: SocketAddr,
///     streams: tokio::sync::mpsc::UnboundedReceiver<std::net::TcpStream>,
/// }
///
/// impl uapi::Listener for Handed {
///     fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
///         match self.streams.poll_recv(cx) {
///             Poll::Ready(Some(stream)) => {
///                 Poll::Ready(stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)))
///             }
///             // The sender is gone: nothing more will come.
///             Poll::Ready(None) | Poll::Pending => Poll::Pending,
///         }
///     }
///     fn local_addr(&self) -> io::Result<SocketAddr> {
///         Ok(self.addr)
///     }
/// }
/// ```
pub trait Listener: Send + 'static {
    /// The next connection, registered with the runtime this is polled on. An
    /// error is logged and followed by a short pause (e.g. out of file
    /// descriptors), then accepting goes on.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>>;

    /// The address connections arrive at.
    ///
    /// # Errors
    ///
    /// When the socket cannot tell.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Listener for TcpListener {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        TcpListener::poll_accept(self, cx).map_ok(|(stream, _)| stream)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

impl Server {
    pub(crate) fn new(listener: Box<dyn Listener>, service: AppService, config: Config) -> Server {
        Server { listener, service, config }
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until Ctrl-C, then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// Never in practice: accept errors are logged and retried.
    pub async fn run(self) -> Result<(), ServeError> {
        // Listen for Ctrl-C before serving: tokio installs its handler on the
        // first poll of `ctrl_c()`, and until then a SIGINT ends the process
        // at once, requests in flight and all.
        let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
        let early = std::future::poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await;
        self.run_until(async move {
            let received = match early {
                Poll::Ready(received) => received,
                Poll::Pending => ctrl_c.await,
            };
            if received.is_err() {
                // No signal handler could be installed: serve until killed.
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received, shutting down");
        })
        .await
    }

    /// Serves until `signal` completes, then stops accepting and waits (up to
    /// the app's grace period) for the requests in flight.
    ///
    /// # Errors
    ///
    /// Never in practice: accept errors are logged and retried.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Server { mut listener, service, config } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        // `half_close`: handlers run to their end (see the module docs).
        builder.http1().header_read_timeout(config.header_read_timeout).max_buf_size(64 * 1024).half_close(true);
        builder.http2().timer(TokioTimer::new()).max_header_list_size(64 * 1024);
        let graceful = GracefulShutdown::new();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                accepted = std::future::poll_fn(|cx| listener.poll_accept(cx)) => {
                    let stream = match accepted {
                        Ok(stream) => stream,
                        Err(e) => {
                            back_off_after_accept_error(&e).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    // The peer, for parameters of type `ClientAddr` (login throttling).
                    let peer = stream.peer_addr().ok().map(ClientAddr);
                    let stream = PrefaceDeadline::new(stream, config.header_read_timeout);
                    let service = service.clone();
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let service = service.clone();
                        async move {
                            let mut req = req.map(RequestBody::Incoming);
                            if let Some(peer) = peer {
                                req.extensions_mut().insert(peer);
                            }
                            Ok::<_, std::convert::Infallible>(service.handle(req).await)
                        }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), svc).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                () = &mut signal => break,
            }
        }
        drop(listener);
        if tokio::time::timeout(config.shutdown_grace, graceful.shutdown()).await.is_err() {
            tracing::warn!("graceful shutdown timed out; closing remaining connections");
        }
        Ok(())
    }
}

/// After a failed accept (e.g. out of file descriptors): log it and back off
/// instead of spinning.
async fn back_off_after_accept_error(e: &io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The HTTP/2 connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection that must say which protocol it speaks within the header-read
/// timeout.
///
/// hyper-util's auto builder first reads until it can tell HTTP/1 from the
/// HTTP/2 preface, with no timeout: a client that connects and sends nothing
/// (or the first bytes of the preface) would hold the connection forever, since
/// hyper's own HTTP/1 header-read timeout only starts after that. While every
/// byte received so far could still begin the preface, reads fail with
/// `TimedOut` once the deadline passes; after that the stream is transparent.
struct PrefaceDeadline {
    stream: TcpStream,
    deadline: Option<Pin<Box<Sleep>>>,
    matched: usize,
}

impl PrefaceDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> PrefaceDeadline {
        PrefaceDeadline { stream, deadline: Some(Box::pin(tokio::time::sleep(timeout))), matched: 0 }
    }
}

impl AsyncRead for PrefaceDeadline {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.deadline.is_some() {
                    let new = &buf.filled()[before..];
                    let rest = &H2_PREFACE[this.matched..];
                    let n = new.len().min(rest.len());
                    if !new.is_empty() && new[..n] == rest[..n] && n < rest.len() {
                        // Still ambiguous: keep the deadline.
                        this.matched += n;
                    } else {
                        // HTTP/1 (hyper's header-read timeout takes over), the whole
                        // preface, or EOF.
                        this.deadline = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the header-read timeout",
                    )));
                }
                Poll::Pending
            }
            ready_err => ready_err,
        }
    }
}

impl AsyncWrite for PrefaceDeadline {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
