//! Shared bits of the peers: the environment they read.

/// `127.0.0.1:$PORT` (PORT defaults to 8000).
pub fn bind_addr() -> String {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned());
    format!("127.0.0.1:{port}")
}

/// `$REDIS_URL` (defaults to redis://127.0.0.1:6379).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}
