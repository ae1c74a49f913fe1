//! Idle keep-alive connections for `bench/run.sh`'s `idle-N` scenarios (the
//! server's memory per idle connection): opens N connections to ADDR, sends
//! one `GET /hello` on each and reads the reply, then holds them all, idle.
//!
//! usage: uapi-idle ADDR [N=10000]
//!
//! Prints `ready opened=K failed=F secs=S` once every reply is in (or failed),
//! then waits for a line on stdin (the script reads the server's RSS
//! meanwhile), checks that each connection is still open and prints
//! `open=K closed=C`, then exits. A server that closes idle connections
//! before the check shows up as `closed` > 0: the RSS read is then suspect.
//!
//! The connections close with a reset (`SO_LINGER` 0), so repeated runs leave
//! no TIME_WAIT behind to exhaust the local port range. Past that range's size
//! (`/proc/sys/net/ipv4/ip_local_port_range`), connections are spread over the
//! source addresses 127.0.0.2, 127.0.0.3, ... (ADDR must then be a loopback one).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// Connections being opened at once: enough to open 10,000 in about a second
/// on loopback, few enough for any listen backlog (tokio's and actix's: 1024).
const IN_FLIGHT: usize = 256;

/// `GET /hello` on a fresh connection, its reply read whole (status 200 and
/// a `content-length` body); the connection is returned open.
async fn open(addr: SocketAddr, source: Option<Ipv4Addr>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip.into(), 0))?;
    }
    socket.set_zero_linger()?;
    let mut stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n").await?;
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    if line.split(' ').nth(1) != Some("200") {
        return Err(std::io::Error::other(format!("status line {:?}", line.trim_end())));
    }
    let mut len = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                len = value.trim().parse().map_err(|_| std::io::ErrorKind::InvalidData)?;
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    // Nothing may be left in the reader's buffer: the server sent one reply.
    if !reader.buffer().is_empty() {
        return Err(std::io::Error::other("bytes after the reply"));
    }
    Ok(stream)
}

/// How many connections one source address can hold: the local port
/// range's size, less a margin for whatever else runs.
fn ports_per_source() -> usize {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut bounds = range.split_whitespace().filter_map(|n| n.parse::<usize>().ok());
    match (bounds.next(), bounds.next()) {
        (Some(lo), Some(hi)) if hi > lo + 2000 => hi - lo + 1 - 1000,
        _ => 10_000,
    }
}

/// Whether the server still holds `stream` open: nothing to read yet.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: uapi-idle ADDR [N=10000]");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().expect("ADDR: ip:port");
    let n: usize = args.get(2).map_or(10_000, |n| n.parse().expect("N"));
    let per_source = ports_per_source();

    let start = Instant::now();
    let (mut streams, mut failed) = (Vec::with_capacity(n), 0usize);
    let mut tasks = JoinSet::new();
    for i in 0..n {
        if tasks.len() >= IN_FLIGHT {
            collect(tasks.join_next().await, &mut streams, &mut failed);
        }
        // The first range of connections from the kernel's choice of source
        // (127.0.0.1), then 127.0.0.2, ...
        let source = (i >= per_source).then(|| Ipv4Addr::new(127, 0, 0, 1 + (i / per_source) as u8));
        tasks.spawn(open(addr, source));
    }
    while let Some(done) = tasks.join_next().await {
        collect(Some(done), &mut streams, &mut failed);
    }
    println!("ready opened={} failed={failed} secs={:.2}", streams.len(), start.elapsed().as_secs_f64());

    // Hold them until the script has read the server's memory.
    let mut line = String::new();
    let _ = BufReader::new(tokio::io::stdin()).read_line(&mut line).await;
    let open = streams.iter().filter(|s| still_open(s)).count();
    println!("open={open} closed={}", streams.len() - open);
}

/// One opened connection into `streams`, or a failure counted (the first
/// few reported on stderr).
fn collect(
    done: Option<Result<std::io::Result<TcpStream>, tokio::task::JoinError>>,
    streams: &mut Vec<TcpStream>,
    failed: &mut usize,
) {
    match done {
        Some(Ok(Ok(stream))) => streams.push(stream),
        Some(Ok(Err(e))) => {
            *failed += 1;
            if *failed <= 3 {
                eprintln!("uapi-idle: {e}");
            }
        }
        Some(Err(e)) => {
            *failed += 1;
            eprintln!("uapi-idle: task: {e}");
        }
        None => {}
    }
}
