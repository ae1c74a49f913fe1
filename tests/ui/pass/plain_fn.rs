//! A plain (not `async`) handler stays callable and routable.

use uapi::{handler, App};

#[handler]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[handler]
fn hello() -> String {
    format!("hello {}", add(1, 2).into_inner())
}

fn main() {
    assert_eq!(add(2, 3).into_inner(), 5);
    let mut app = App::new();
    app.get("/", hello);
    assert!(app.build().is_ok());
}
