//! Whether a failed login tells which names exist by how long it takes: the
//! login example's `POST /login` (Argon2id at OWASP's minimum parameters)
//! for an unknown name and for a known name with a wrong password. An unknown
//! name is checked against a dummy hash, so the two 401s should take the same
//! time within the noise.
//!
//! The two are measured in pairs, alternating which goes first, inside one
//! benchmark: run one after the other, a shared machine's drift between the
//! runs (seen: 6 ms of 17) would pass for a difference. Criterion reports the
//! unknown-name logins; the pairs' summary (medians and the ratio per pair)
//! is printed after it. The right password is measured too, for scale.
//!
//! Run: `cargo bench --bench login_timing`.

#[path = "../examples/login/app.rs"]
#[allow(dead_code)]
mod login_app;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use uapi::login::LoginThrottleOptions;
use uapi::testing::TestClient;

const JSON: &str = "application/json";

fn body(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
}

/// One login's time; it must answer `status`.
async fn timed(client: &TestClient, request: &str, status: u16) -> Duration {
    let started = Instant::now();
    let r = client.post("/login").header("content-type", JSON).body(request.to_owned()).send().await;
    let took = started.elapsed();
    assert_eq!(r.status, status, "{}", r.text());
    took
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn failed_logins(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // Failures leave the throttle's window at once: every attempt is let through.
    let settings = login_app::Settings {
        insecure_cookies: true,
        throttle: LoginThrottleOptions::default().window(Duration::from_millis(1)),
        ..Default::default()
    };
    let client = TestClient::new(&login_app::build(login_app::Store::Memory, &settings)).expect("the app builds");
    let created =
        runtime.block_on(client.post("/users").header("content-type", JSON).body(body("ann", "correct horse")).send());
    assert_eq!(created.status, 201, "{}", created.text());
    let (unknown, wrong, right) =
        (body("nobody", "wrong horse"), body("ann", "wrong horse"), body("ann", "correct horse"));

    let pairs: Arc<Mutex<Vec<(Duration, Duration)>>> = Arc::default();
    let mut group = c.benchmark_group("login");
    group.sample_size(30).measurement_time(Duration::from_secs(20));
    group.bench_function("unknown_name_401_paired_with_wrong_password_401", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut unknown_total = Duration::ZERO;
                for i in 0..iters {
                    let (u, w) = if i % 2 == 0 {
                        let u = timed(&client, &unknown, 401).await;
                        (u, timed(&client, &wrong, 401).await)
                    } else {
                        let w = timed(&client, &wrong, 401).await;
                        (timed(&client, &unknown, 401).await, w)
                    };
                    unknown_total += u;
                    pairs.lock().unwrap_or_else(PoisonError::into_inner).push((u, w));
                }
                unknown_total
            })
        });
    });
    group.bench_function("right_password_201", |b| {
        b.to_async(&runtime).iter(|| timed(&client, &right, 201));
    });
    group.finish();

    let pairs = pairs.lock().unwrap_or_else(PoisonError::into_inner);
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let mut u: Vec<f64> = pairs.iter().map(|(u, _)| ms(u)).collect();
    let mut w: Vec<f64> = pairs.iter().map(|(_, w)| ms(w)).collect();
    let mut ratio: Vec<f64> = pairs.iter().map(|(u, w)| ms(u) / ms(w)).collect();
    for v in [&mut u, &mut w, &mut ratio] {
        v.sort_by(f64::total_cmp);
    }
    if !ratio.is_empty() {
        println!(
            "login/paired: {} pairs; median unknown name {:.2} ms, wrong password {:.2} ms; \
             unknown/wrong per pair: median {:.3}, 10th-90th percentile {:.3}-{:.3}",
            ratio.len(),
            percentile(&u, 0.5),
            percentile(&w, 0.5),
            percentile(&ratio, 0.5),
            percentile(&ratio, 0.1),
            percentile(&ratio, 0.9),
        );
    }
}

criterion_group!(benches, failed_logins);
criterion_main!(benches);
