use uapi::{handler, Header};

#[handler]
async fn key(#[header("x-api-key")] #[header("x-key")] key: Header<String>) -> String {
    key.0
}

fn main() {}
