//! `#[handler]` adds no warning to the user's code, whatever the body's shape:
//! this file is compiled with every warning an error.
#![deny(warnings)]

use uapi::status::{Created, NotFound};
use uapi::{handler, App};

/// A one-line body, as the README writes them.
#[handler]
async fn one_liner(page: u32) -> String { format!("{page}") }

/// A block with statements.
#[handler]
async fn block(page: u32, size: Option<u32>) -> String {
    let size = size.unwrap_or(10);
    let first = page * size;
    format!("{first}..{}", first + size)
}

/// An early `return`.
#[handler]
async fn early(id: u64) -> Result<String, NotFound<&'static str>> {
    if id == 0 {
        return Err(NotFound::new("no such item"));
    }
    Ok(id.to_string())
}

fn parse_id(raw: &str) -> Result<u64, NotFound<&'static str>> {
    raw.parse().map_err(|_| NotFound::new("not a number"))
}

/// The `?` operator.
#[handler]
async fn question_mark(raw: String) -> Result<Created<String>, NotFound<&'static str>> {
    let id = parse_id(&raw)?;
    Ok(Created::new(id.to_string()))
}

/// A `mut` parameter.
#[handler]
async fn mutable(mut count: u32) -> String {
    count += 1;
    count.to_string()
}

/// A plain (not `async`) function, one line and with `return`.
#[handler]
fn sync_one_liner(a: i64) -> String { (a * 2).to_string() }

#[handler]
fn sync_return(a: i64) -> String {
    if a < 0 {
        return "0".to_owned();
    }
    a.to_string()
}

/// No parameters, unit return.
#[handler]
async fn nothing() {}

fn main() {
    let mut app = App::new();
    app.get("/one", one_liner)
        .get("/block", block)
        .get("/early", early)
        .get("/q", question_mark)
        .get("/mut", mutable)
        .get("/sync", sync_one_liner)
        .get("/sync_return", sync_return)
        .get("/nothing", nothing);
    assert!(app.build().is_ok());
}
