//! A server for the Ctrl-C tests (`tests/ctrl_c.rs`), which start it as a
//! process and send it SIGINT: it serves through `App::serve`, `Server::run`
//! or `Workers::run`, whichever it is told, each of which shuts down
//! gracefully on Ctrl-C.
//!
//! ```text
//! cargo run --example ctrl_c -- serve 127.0.0.1:8002   # App::serve (prints nothing when ready)
//! cargo run --example ctrl_c -- run                    # Server::run, logs "listening on http://…"
//! cargo run --example ctrl_c -- workers                # Workers::run, 2 workers, logs "serving addr=…"
//! ```
//!
//! `GET /slow` prints `slow: started on worker N` and answers `finished` once
//! a line `release` arrives on stdin; `GET /stuck` prints `stuck: started`
//! and never answers. The process exits (status 3) when its stdin ends, so
//! it never outlives the test that started it.

use std::io::BufRead;
use std::sync::OnceLock;

use tokio::sync::watch;
use uapi::{handler, App, ServeError, Workers};

/// Which worker built the app (0 without `Workers`).
#[derive(Clone)]
struct Worker(usize);

/// Set once `release` arrives on stdin (a watch: workers run on runtimes of
/// their own).
fn released() -> &'static watch::Sender<bool> {
    static RELEASED: OnceLock<watch::Sender<bool>> = OnceLock::new();
    RELEASED.get_or_init(|| watch::Sender::new(false))
}

/// `GET /`.
#[handler]
async fn hello() -> &'static str {
    "hello"
}

/// `GET /slow`: answers once released.
#[handler]
async fn slow(worker: Worker) -> String {
    println!("slow: started on worker {}", worker.0);
    let _ = released().subscribe().wait_for(|go| *go).await;
    format!("finished on worker {}", worker.0)
}

/// `GET /stuck`: never answers.
#[handler]
async fn stuck() -> &'static str {
    println!("stuck: started");
    std::future::pending::<()>().await;
    "never"
}

fn app(worker: usize) -> App {
    let mut app = App::new();
    app.provide_value(Worker(worker)).get("/", hello).get("/slow", slow).get("/stuck", stuck);
    app
}

/// Releases `/slow` on a `release` line; exits when stdin ends.
fn watch_stdin() {
    std::thread::spawn(|| {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) if line.trim() == "release" => {
                    released().send_replace(true);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        eprintln!("stdin ended: exiting");
        std::process::exit(3);
    });
}

fn main() -> Result<(), ServeError> {
    tracing_subscriber::fmt().with_ansi(false).with_env_filter("info").init();
    watch_stdin();
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    match mode.as_str() {
        "serve" => {
            let addr = args.next().expect("serve ADDR");
            tokio::runtime::Runtime::new()?.block_on(app(0).serve(addr))
        }
        "run" => tokio::runtime::Runtime::new()?.block_on(async {
            let server = app(0).bind("127.0.0.1:0").await?;
            tracing::info!("listening on http://{}", server.local_addr());
            server.run().await
        }),
        "workers" => {
            Workers::new("127.0.0.1:0").threads(2).run(|worker| async move { Ok::<_, ServeError>(app(worker)) })
        }
        other => panic!("unknown mode {other:?}: serve ADDR, run or workers"),
    }?;
    println!("exited cleanly");
    Ok(())
}
