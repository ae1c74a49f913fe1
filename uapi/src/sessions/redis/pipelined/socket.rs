//! Opening a socket to Redis: connect, handshake, and parking a socket
//! between the runtime that opened it and the one whose task will drive it.

use std::future::Future;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use redis::{ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, RedisResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::errors::{config, lost};
use super::resp;

/// A socket the driver can own, either kind.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// An open, handshaken socket, registered with the runtime that opened it.
pub(super) enum Socket {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

/// A socket taken off its runtime: tokio sockets are bound to the runtime
/// they were made on, and that runtime may stop running (`connect` in `main`,
/// then workers on runtimes of their own).
pub(super) enum Parked {
    Tcp(std::net::TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Socket {
    pub(super) fn boxed(self) -> Box<dyn Io> {
        match self {
            Socket::Tcp(s) => Box::new(s),
            #[cfg(unix)]
            Socket::Unix(s) => Box::new(s),
        }
    }

    pub(super) fn park(self) -> std::io::Result<Parked> {
        Ok(match self {
            Socket::Tcp(s) => Parked::Tcp(s.into_std()?),
            #[cfg(unix)]
            Socket::Unix(s) => Parked::Unix(s.into_std()?),
        })
    }
}

impl Parked {
    /// The socket, registered with the current runtime.
    pub(super) fn resume(self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            Parked::Tcp(s) => Box::new(tokio::net::TcpStream::from_std(s)?),
            #[cfg(unix)]
            Parked::Unix(s) => Box::new(tokio::net::UnixStream::from_std(s)?),
        })
    }
}

/// Connects and runs the handshake (`AUTH`, `SELECT`) within `timeout`;
/// returns the socket and any bytes read past the handshake's replies.
pub(super) async fn open(info: &ConnectionInfo, timeout: Duration) -> RedisResult<(Socket, BytesMut)> {
    bounded(timeout, async {
        let mut socket = match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                Socket::Tcp(tcp)
            }
            #[cfg(unix)]
            ConnectionAddr::Unix(path) => Socket::Unix(tokio::net::UnixStream::connect(path).await?),
            other => return Err(config(&format!("unsupported address {other:?}"))),
        };
        let rbuf = match &mut socket {
            Socket::Tcp(s) => handshake(s, info).await?,
            #[cfg(unix)]
            Socket::Unix(s) => handshake(s, info).await?,
        };
        Ok((socket, rbuf))
    })
    .await
}

async fn bounded<T>(timeout: Duration, fut: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(done) => done,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connecting to Redis took over {timeout:?}"),
        ))),
    }
}

/// `AUTH` with the URL's user and password, `SELECT` of its database; a
/// refusal is an authentication (or configuration) error.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S, info: &ConnectionInfo) -> RedisResult<BytesMut> {
    let settings = info.redis_settings();
    let mut hello = Vec::new();
    let mut count = 0;
    if let Some(password) = settings.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = settings.username() {
            auth.arg(user);
        }
        auth.arg(password).write_packed_command(&mut hello);
        count += 1;
    }
    if settings.db() != 0 {
        redis::cmd("SELECT").arg(settings.db()).write_packed_command(&mut hello);
        count += 1;
    }
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    if count == 0 {
        return Ok(rbuf);
    }
    io.write_all(&hello).await?;
    for _ in 0..count {
        let reply = loop {
            if let Some((v, used)) = resp::decode(&rbuf)? {
                rbuf.advance(used);
                break v;
            }
            if io.read_buf(&mut rbuf).await? == 0 {
                return Err(lost());
            }
        };
        if let Err(e) = reply.extract_error() {
            let kind = if matches!(e.code(), Some("WRONGPASS" | "NOAUTH")) {
                ErrorKind::AuthenticationFailed
            } else {
                ErrorKind::InvalidClientConfig
            };
            return Err(RedisError::from((kind, "Redis refused the connection's handshake", e.to_string())));
        }
    }
    Ok(rbuf)
}
