//! Headless Chromium for tests, driven over WebDriver ([fantoccini]): a
//! `chromedriver` on a loopback port the OS picks (`--port=0`, the port read
//! from its own "started successfully on port N" line: no sleeps), one
//! session of Debian's `/usr/bin/chromium` (`--headless=new --no-sandbox
//! --disable-gpu --disable-dev-shm-usage`), and helpers that poll the page
//! for a condition until a deadline ([`PATIENCE`]).
//!
//! chromedriver runs in a process group of its own, and Chromium's processes
//! stay in it: the group is SIGKILLed on drop, or by a [`Watchdog`] when the
//! test process dies without dropping it (a timeout, Ctrl-C, `kill -9`), and
//! Chromium's profile, a temp dir of ours, is removed either way.
//!
//! The browser reaches loopback only: it is told to send every other request
//! through a proxy of ours, which answers each with a 403 and records what
//! was asked ([`Browser::off_loopback`]), so nothing leaves the machine and a
//! test can say nothing tried to. Needs `chromium` and `chromium-driver`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::watchdog::Watchdog;

/// The upper bound on anything these helpers wait for (the machine is
/// shared: generous).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often a condition is checked while waiting for it.
const POLL: Duration = Duration::from_millis(100);

/// Debian's Chromium and its WebDriver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// chromedriver's line once it listens.
const READY_LINE: &str = "started successfully on port ";

/// A headless Chromium session. Dropping it kills chromedriver and Chromium;
/// [`Browser::close`] ends the session first.
pub struct Browser {
    client: Option<Client>,
    driver: Driver,
    /// The first line of every request the proxy got.
    off_loopback: Arc<Mutex<Vec<String>>>,
    proxy: tokio::task::JoinHandle<()>,
}

/// chromedriver (and with it Chromium), its watchdog and Chromium's profile dir.
struct Driver {
    child: Child,
    watchdog: Option<Watchdog>,
    dir: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver is unreaped here, so its group id is still its own.
        // (procps' kill takes a group as `-- -pgid`.)
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        // chromedriver itself in any case, so the wait below cannot hang.
        let _ = self.child.kill();
        self.watchdog.take();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Browser {
        let (off_loopback, proxy, proxy_port) = start_proxy().await;
        let driver_and_port = tokio::task::spawn_blocking(start_driver).await.expect("starts chromedriver");
        let (driver, port) = driver_and_port;
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", driver.dir.display()),
            "--window-size=1280,1024".to_owned(),
            // Loopback goes direct (Chromium never proxies it); anything
            // else to our recording proxy, never onto the network.
            format!("--proxy-server=http://127.0.0.1:{proxy_port}"),
            "--disable-component-update".to_owned(),
            "--disable-background-networking".to_owned(),
            "--no-first-run".to_owned(),
        ];

        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connect = builder.capabilities(capabilities).connect(&url);
        let client = match tokio::time::timeout(PATIENCE, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("no Chromium session from chromedriver at {url}: {e}"),
            Err(_) => panic!("no Chromium session from chromedriver at {url} within {PATIENCE:?}"),
        };
        Browser { client: Some(client), driver, off_loopback, proxy }
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Opens `url` (returns once the page's `load` event fired).
    pub async fn goto(&self, url: &str) {
        let goto = self.client().goto(url);
        match tokio::time::timeout(PATIENCE, goto).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("could not open {url}: {e}"),
            Err(_) => panic!("{url} did not load within {PATIENCE:?}"),
        }
    }

    /// Runs `script` (a function body: `return ...`, with `arguments`) in
    /// the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        let run = self.client().execute(script, args);
        match tokio::time::timeout(PATIENCE, run).await {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => panic!("script failed: {e}\n{script}"),
            Err(_) => panic!("script took longer than {PATIENCE:?}\n{script}"),
        }
    }

    /// Runs `script` until it returns something other than `null`,
    /// `undefined`, `false` or `""`, and returns that; panics after
    /// [`PATIENCE`] with `what` it waited for, the page's URL and text, and
    /// a screenshot (saved as `<CARGO_TARGET_TMPDIR>/browser-<n>.png`). A
    /// script that throws counts as not yet.
    pub async fn wait_for(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + PATIENCE;
        let mut last_error = None;
        loop {
            match self.client().execute(script, args.clone()).await {
                Ok(Value::Null | Value::Bool(false)) => {}
                Ok(Value::String(s)) if s.is_empty() => {}
                Ok(value) => return value,
                Err(e) => last_error = Some(e.to_string()),
            }
            if Instant::now() >= deadline {
                let report = self.failure_report().await;
                let error = last_error.map(|e| format!("\nlast script error: {e}")).unwrap_or_default();
                panic!("waited {PATIENCE:?} for {what}{error}\n{report}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matches `css` and is displayed; that element.
    pub async fn element(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.client().find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            if Instant::now() >= deadline {
                let report = self.failure_report().await;
                panic!("waited {PATIENCE:?} for a displayed element {css:?}\n{report}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a displayed element matching `css`, then clicks it.
    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        if let Err(e) = element.click().await {
            let report = self.failure_report().await;
            panic!("could not click {css:?}: {e}\n{report}");
        }
    }

    /// The text of the whole page as a person sees it (`innerText`).
    pub async fn text(&self) -> String {
        let text = self.js("return document.body ? document.body.innerText : ''", vec![]).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The URL of every resource the page loaded or tried to (the document,
    /// scripts, styles, fetches: the Resource Timing entries).
    pub async fn resource_urls(&self) -> Vec<String> {
        let script = "return performance.getEntries()
            .filter(e => e.entryType === 'navigation' || e.entryType === 'resource')
            .map(e => e.name)";
        let urls = self.js(script, vec![]).await;
        let urls = urls.as_array().expect("an array of URLs");
        urls.iter().map(|u| u.as_str().expect("a URL").to_owned()).collect()
    }

    /// The first line of each request the browser sent off loopback (to our
    /// proxy, which refused it), e.g. `CONNECT cdn.example:443 HTTP/1.1`.
    pub fn off_loopback(&self) -> Vec<String> {
        self.off_loopback.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The hosts of [`Self::off_loopback`]'s requests (`CONNECT host:port`,
    /// `GET http://host/...`), lower case.
    pub fn off_loopback_hosts(&self) -> BTreeSet<String> {
        let hosts = self.off_loopback().into_iter().filter_map(|line| {
            let target = line.split_whitespace().nth(1)?.to_owned();
            let authority = target.split_once("://").map_or(target.as_str(), |(_, rest)| rest);
            let authority = authority.split('/').next()?;
            Some(authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_ascii_lowercase())
        });
        hosts.collect()
    }

    /// What a failed wait reports: the page's URL, its text, a screenshot.
    async fn failure_report(&self) -> String {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let url = match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(no URL: {e})"),
        };
        let text = match self.client().execute("return document.body ? document.body.innerText : ''", vec![]).await {
            Ok(Value::String(text)) => text,
            other => format!("(no text: {other:?})"),
        };
        let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "browser-{}-{}.png",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let shot = match self.client().screenshot().await.map(|png| std::fs::write(&shot, png)) {
            Ok(Ok(())) => format!("screenshot: {}", shot.display()),
            other => format!("(no screenshot: {other:?})"),
        };
        format!("page: {url}\n{shot}\npage text:\n{text}")
    }

    /// Ends the session (Chromium quits), then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(PATIENCE, client.close()).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver (a field) is killed after this: the client's session
        // ends with it.
        self.proxy.abort();
    }
}

/// Starts chromedriver on a port the OS picks, in a process group of its
/// own, and waits for its ready line; it and that port.
fn start_driver() -> (Driver, u16) {
    use std::os::unix::process::CommandExt;
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "uapi-chromium-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create Chromium's profile dir");
    let mut child = Command::new(CHROMEDRIVER)
        .args(["--port=0", "--allowed-ips=127.0.0.1"])
        // Chromium's crash reports and caches go to ~/.config and ~/.cache
        // whatever its profile dir: into ours instead.
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {CHROMEDRIVER} (is chromium-driver installed? .ci/run installs it): {e}"));
    // Guarded from here on (with its group and the profile dir).
    let watchdog = Some(Watchdog::guard_group(child.id(), Some(&dir)));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut driver = Driver { child, watchdog, dir };
    let (tx, rx) = mpsc::channel();
    // Keeps draining stdout so chromedriver never blocks on a full pipe;
    // ends at EOF when it dies.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find(READY_LINE) {
                let port: String = line[at + READY_LINE.len()..].chars().take_while(char::is_ascii_digit).collect();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(port.parse::<u16>().ok());
                }
            }
        }
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(Some(port)) => (driver, port),
        Ok(None) => panic!("chromedriver's ready line has no port"),
        Err(e) => {
            let status = driver.child.try_wait();
            panic!("chromedriver not ready within {PATIENCE:?} ({e}; status {status:?})");
        }
    }
}

/// A proxy on a free loopback port that records the first line of each
/// request and answers `403`; the record, its task and its port.
async fn start_proxy() -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let port = listener.local_addr().expect("the proxy's address").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.contains(&b'\n') && head.len() < 8192 {
                    match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let line = head.lines().next().unwrap_or_default().to_owned();
                record.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = stream.write_all(refusal.as_bytes()).await;
            });
        }
    });
    (seen, task, port)
}
