use uapi::handler;

#[handler(foo = 1)]
async fn hello() -> &'static str {
    "hello"
}

fn main() {}
