use uapi::handler;

#[handler]
async fn show<T: std::str::FromStr>(value: T) -> &'static str {
    let _ = value;
    "ok"
}

fn main() {}
