use uapi::{handler, Header};

#[handler]
async fn key(#[header(x_api_key)] key: Header<String>) -> String {
    key.0
}

fn main() {}
