//! Whether a failed login tells which names exist by how long it takes: the
//! login example's `POST /login` (Argon2id at OWASP's minimum parameters)
//! for an unknown name, for a known name with a wrong password, and, for
//! scale, with the right password. The two 401s should take the same time
//! within the noise: an unknown name is checked against a dummy hash.
//!
//! Run: `cargo bench --bench login_timing`.

#[path = "../examples/login/app.rs"]
#[allow(dead_code)]
mod login_app;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use uapi::login::LoginThrottleOptions;
use uapi::testing::TestClient;

const JSON: &str = "application/json";

fn body(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
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

    let mut group = c.benchmark_group("login");
    group.sample_size(30).measurement_time(Duration::from_secs(10));
    for (name, username, password, status) in [
        ("unknown_name_401", "nobody", "wrong horse", 401),
        ("wrong_password_401", "ann", "wrong horse", 401),
        ("right_password_201", "ann", "correct horse", 201),
    ] {
        let request = body(username, password);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let r = client.post("/login").header("content-type", JSON).body(request.clone()).send().await;
                assert_eq!(r.status, status, "{}", r.text());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, failed_logins);
criterion_main!(benches);
