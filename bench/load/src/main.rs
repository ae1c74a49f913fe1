//! Load client for `bench/load.sh`: CLIENTS concurrent clients, each on its
//! own keep-alive HTTP/1.1 connection, log in as their own user id (POST
//! /login?user_id=N), then GET / repeatedly for DURATION seconds and check the
//! body is THEIR id (a different id is session crosstalk). Hand-written
//! HTTP/1.1 on tokio so it builds in seconds; it stops by itself.
//!
//! usage: uapi-load ADDR CLIENTS DURATION_SECS
//! prints one line: requests=.. errors=.. crosstalk=.. logins=.. rps=..

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    errors: AtomicU64,
    crosstalk: AtomicU64,
    logins: AtomicU64,
}

struct Reply {
    status: u16,
    set_cookie: Option<String>,
    body: String,
}

type Conn = BufReader<TcpStream>;

async fn exchange(conn: &mut Conn, request: &str) -> std::io::Result<Reply> {
    conn.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
    let (mut len, mut set_cookie) = (0usize, None);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap_or((l, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            len = value.parse().map_err(|_| std::io::ErrorKind::InvalidData)?;
        } else if name.eq_ignore_ascii_case("set-cookie") && value.starts_with("session_id=") {
            set_cookie = value.split(';').next().map(str::to_owned);
        }
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await?;
    Ok(Reply { status, set_cookie, body: String::from_utf8_lossy(&body).into_owned() })
}

async fn client(addr: String, user: u64, until: Instant, counts: Arc<Counts>) {
    let mut cookie: Option<String> = None;
    let mut conn: Option<Conn> = None;
    while Instant::now() < until {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn.insert(BufReader::new(s))
                }
                Err(_) => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let result = match &cookie {
            None => {
                let req = format!("POST /login?user_id={user} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n");
                exchange(c, &req).await.map(|r| {
                    if r.status == 201 {
                        if let Some(sc) = r.set_cookie {
                            counts.logins.fetch_add(1, Ordering::Relaxed);
                            cookie = Some(sc);
                            return true;
                        }
                    }
                    false
                })
            }
            Some(ck) => {
                let req = format!("GET / HTTP/1.1\r\nHost: bench\r\nCookie: {ck}\r\n\r\n");
                exchange(c, &req).await.map(|r| {
                    if r.status == 200 && r.body != user.to_string() {
                        counts.crosstalk.fetch_add(1, Ordering::Relaxed);
                        eprintln!("crosstalk: user {user} saw {:?}", r.body);
                    }
                    r.status == 200 && r.body == user.to_string()
                })
            }
        };
        counts.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(true) => {}
            Ok(false) => {
                counts.errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counts.errors.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: uapi-load ADDR CLIENTS DURATION_SECS");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let clients: u64 = args[2].parse().expect("CLIENTS");
    let secs: u64 = args[3].parse().expect("DURATION_SECS");
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let counts = Arc::new(Counts::default());
    let tasks: Vec<_> =
        (0..clients).map(|n| tokio::spawn(client(addr.clone(), 1_000_000 + n, until, counts.clone()))).collect();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let requests = counts.requests.load(Ordering::Relaxed);
    println!(
        "requests={requests} errors={} crosstalk={} logins={} rps={:.0}",
        counts.errors.load(Ordering::Relaxed),
        counts.crosstalk.load(Ordering::Relaxed),
        counts.logins.load(Ordering::Relaxed),
        requests as f64 / elapsed
    );
}
