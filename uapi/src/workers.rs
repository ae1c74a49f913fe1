//! Thread-per-core serving: [`Workers`].

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::{App, Listener, ServeError};

/// Serves an app on several threads, each running its own single-threaded
/// tokio runtime and its own copy of the app. One acceptor thread takes the
/// connections and hands them to the workers in turn, so each worker serves
/// an even share (the kernel's `SO_REUSEPORT` hashing can leave one worker
/// with far more connections than another, and the busier one then sets the
/// pace).
///
/// This is the model of actix-web's workers, with one difference that matters
/// for sessions: the app is built *on* each worker by your factory, so
/// whatever it opens, a Redis connection above all, is that worker's own. A
/// request and its Redis replies then never cross threads: no work stealing,
/// no cross-thread wake-ups, no lock contention, and each worker's session
/// commands share writes to Redis (see `sessions::redis`). On the load
/// benchmark this is the faster way to serve sessions (README, Benchmarks).
///
/// State every worker must share (an in-memory store, a counter) is created
/// once, outside the factory, and cloned into each app.
///
/// [`run`](Self::run) and [`start`](Self::start) create the runtimes
/// themselves: call them from plain `fn main`, not from inside a tokio runtime
/// (`start` may be called from one: it only blocks until the workers serve).
///
/// # Examples
///
/// ```no_run
/// use uapi::{handler, App, Workers};
/// use uapi::sessions::redis::configure_async_sessions;
/// use uapi::sessions::{AsyncSession, SessionOptions};
///
/// #[handler]
/// async fn index(session: AsyncSession) -> String {
///     session.get("user_id").unwrap_or_default()
/// }
///
/// fn main() -> Result<(), uapi::ServeError> {
///     Workers::new("127.0.0.1:8000").run(move |_worker| {
///         async move {
///             // One connection per worker, made on that worker.
///             let client = uapi::redis::Client::open("redis://127.0.0.1:6379")?;
///             let redis = client.get_connection_manager().await?;
///             let mut app = App::new();
///             configure_async_sessions(&mut app, redis, SessionOptions::default());
///             app.get("/", index);
///             Ok::<_, uapi::redis::RedisError>(app)
///         }
///     })
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Workers {
    addr: Result<SocketAddr, String>,
    threads: usize,
}

impl Workers {
    /// Workers for `addr`, one per available CPU.
    pub fn new(addr: impl ToSocketAddrs) -> Workers {
        let addr = match addr.to_socket_addrs() {
            Ok(mut addrs) => addrs.next().ok_or_else(|| "the address resolved to nothing".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Workers { addr, threads }
    }

    /// The number of worker threads (at least 1).
    pub fn threads(mut self, threads: usize) -> Workers {
        self.threads = threads.max(1);
        self
    }

    /// Starts the workers and serves until Ctrl-C, then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// As [`Self::start`], and whatever made a worker stop.
    pub fn run<F, Fut, E>(self, make: F) -> Result<(), ServeError>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<App, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        // Listen for Ctrl-C before serving (a SIGINT before tokio's handler
        // is installed ends the process at once, requests in flight and all).
        let signal = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let ctrl_c = signal.block_on(ctrl_c_from_now());
        let workers = self.threads;
        let running = self.start(make)?;
        tracing::info!(addr = %running.local_addr(), workers, "serving");
        running.wait_on(&signal, ctrl_c)
    }

    /// Starts the workers: binds the address, then each worker builds its app
    /// with `make(index)` on its own thread. Returns once every worker serves.
    ///
    /// # Errors
    ///
    /// An address that cannot be bound, a factory error
    /// ([`ServeError::Setup`]) or an app that does not build; workers already
    /// started are stopped.
    pub fn start<F, Fut, E>(self, make: F) -> Result<RunningWorkers, ServeError>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<App, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let addr = self.addr.map_err(|e| ServeError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let make = Arc::new(make);
        let (stop, stopped) = watch::channel(false);
        let mut running = RunningWorkers { addr, stop, threads: Vec::new() };
        let mut handoff = Vec::with_capacity(self.threads);
        for index in 0..self.threads {
            let (ready, serving) = mpsc::channel();
            let (streams_tx, streams) = tokio::sync::mpsc::unbounded_channel();
            handoff.push(streams_tx);
            let (make, stopped) = (make.clone(), stopped.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("uapi-worker-{index}"))
                .spawn(move || worker(index, addr, streams, &*make, &ready, stopped));
            match spawned {
                Ok(handle) => running.threads.push(handle),
                Err(e) => return Err(running.abort(ServeError::Io(e))),
            }
            match serving.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(running.abort(e)),
                Err(_) => return Err(running.abort(ServeError::Worker("a worker stopped while starting".into()))),
            }
        }
        let stopped = stopped.clone();
        let spawned =
            std::thread::Builder::new().name("uapi-acceptor".into()).spawn(move || accept(listener, &handoff, stopped));
        match spawned {
            Ok(handle) => running.threads.push(handle),
            Err(e) => return Err(running.abort(ServeError::Io(e))),
        }
        Ok(running)
    }
}

/// Workers started by [`Workers::start`].
#[derive(Debug)]
pub struct RunningWorkers {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<Result<(), ServeError>>>,
}

impl RunningWorkers {
    /// The address every worker listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until Ctrl-C, then [shuts down](Self::shutdown).
    ///
    /// # Errors
    ///
    /// As [`Self::shutdown`].
    pub fn wait(self) -> Result<(), ServeError> {
        let signal = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let ctrl_c = signal.block_on(ctrl_c_from_now());
        self.wait_on(&signal, ctrl_c)
    }

    /// Waits on `signal` for `ctrl_c`, then shuts down.
    fn wait_on(self, signal: &tokio::runtime::Runtime, ctrl_c: impl Future<Output = ()>) -> Result<(), ServeError> {
        signal.block_on(ctrl_c);
        tracing::info!("Ctrl-C received, shutting down");
        self.shutdown()
    }

    /// Stops accepting, lets the requests in flight finish (up to each app's
    /// grace period) and waits for every worker thread.
    ///
    /// # Errors
    ///
    /// The first error a worker stopped with; a worker that panicked is
    /// [`ServeError::Worker`].
    pub fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        for handle in self.threads {
            let outcome = handle.join().unwrap_or_else(|_| Err(ServeError::Worker("a worker thread panicked".into())));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    fn abort(self, error: ServeError) -> ServeError {
        let _ = self.shutdown();
        error
    }
}

fn worker<F, Fut, E>(
    index: usize,
    addr: SocketAddr,
    streams: UnboundedReceiver<std::net::TcpStream>,
    make: &F,
    ready: &mpsc::Sender<Result<(), ServeError>>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ServeError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<App, E>>,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(ServeError::Io(e)));
            return Ok(());
        }
    };
    runtime.block_on(async move {
        let server = match make(index).await {
            Err(e) => Err(ServeError::Setup(e.into())),
            Ok(app) => app.bind_listener(Handed { addr, streams }),
        };
        let server = match server {
            Ok(server) => server,
            Err(e) => {
                let _ = ready.send(Err(e));
                return Ok(());
            }
        };
        let _ = ready.send(Ok(()));
        server
            .run_until(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    })
}

/// Ctrl-C, listened for from now on: resolves once one arrives (never, if
/// no handler could be installed). tokio installs its handler on the first
/// poll of `ctrl_c()`, so that poll happens here, before the returned future
/// is awaited.
async fn ctrl_c_from_now() -> impl Future<Output = ()> {
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let early = std::future::poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await;
    async move {
        let received = match early {
            Poll::Ready(received) => received,
            Poll::Pending => ctrl_c.await,
        };
        if received.is_err() {
            // No signal handler could be installed: serve until killed.
            std::future::pending::<()>().await;
        }
    }
}

/// The acceptor: takes every connection and hands them to the workers in
/// turn, skipping a worker that is gone.
fn accept(
    listener: std::net::TcpListener,
    workers: &[UnboundedSender<std::net::TcpStream>],
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let mut next = 0usize;
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted.and_then(|(stream, _)| stream.into_std()) {
                    Ok(mut stream) => {
                        for _ in 0..workers.len() {
                            let worker = &workers[next % workers.len()];
                            next = next.wrapping_add(1);
                            match worker.send(stream) {
                                Ok(()) => break,
                                Err(returned) => stream = returned.0,
                            }
                        }
                    }
                    Err(e) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopped.wait_for(|stop| *stop) => return Ok(()),
            }
        }
    })
}

/// A worker's connections: accepted by the acceptor thread, handed over here.
struct Handed {
    addr: SocketAddr,
    streams: UnboundedReceiver<std::net::TcpStream>,
}

impl Listener for Handed {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        match self.streams.poll_recv(cx) {
            Poll::Ready(Some(stream)) => {
                Poll::Ready(stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)))
            }
            // The acceptor is gone: nothing more will come.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
