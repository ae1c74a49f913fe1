//! The checker on small synthetic source trees written to temporary directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{analyze, Analysis};

/// A source tree in a fresh temporary directory, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("xtask-modules-{}-{n}", std::process::id()));
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Tree(root)
    }

    fn analyze(&self, addons: &[&str]) -> Checked {
        let addons: Vec<String> = addons.iter().map(|s| s.to_string()).collect();
        Checked { a: analyze(&self.0, &addons).unwrap(), root: self.0.clone() }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Checked {
    a: Analysis,
    root: PathBuf,
}

impl Checked {
    fn rel(&self, f: usize) -> String {
        let path = &self.a.krate.files[f].path;
        path.strip_prefix(&self.root).unwrap_or(Path::new("?")).display().to_string()
    }

    /// Each cycle as its sorted relative file names.
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> =
            self.a.cycles.iter().map(|scc| scc.iter().map(|&f| self.rel(f)).collect()).collect();
        out.iter_mut().for_each(|c| c.sort());
        out
    }

    fn has_edge(&self, from: &str, to: &str) -> bool {
        self.a.edges.iter().any(|e| self.rel(e.from) == from && self.rel(e.to) == to)
    }

    fn violations(&self) -> Vec<String> {
        self.a.violations.iter().map(|v| format!("{}:{} {}", self.rel(v.file), v.line, v.message)).collect()
    }
}

#[test]
fn finds_a_two_file_cycle() {
    let t = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A(B);\n"),
        ("b.rs", "pub struct B;\npub fn make() -> crate::a::A { todo!() }\n"),
    ]);
    let c = t.analyze(&[]);
    assert_eq!(c.cycles(), vec![vec!["a.rs", "b.rs"]]);
    let report = crate::report(&c.a, &t.0, &[]);
    assert!(report.contains("a.rs:1 crate::b::B ->"), "{report}");
    assert!(report.contains("b.rs:2 crate::a::A ->"), "{report}");
}

#[test]
fn finds_a_cycle_through_a_reexport() {
    // b names `super::Item`, which m/mod.rs re-exports from a; a uses b: a <-> b, not mod.rs.
    let t = Tree::new(&[
        ("lib.rs", "mod m;\n"),
        ("m/mod.rs", "mod a;\nmod b;\npub use self::a::Item;\n"),
        ("m/a.rs", "pub struct Item;\nfn f() { super::b::g(); }\n"),
        ("m/b.rs", "use super::Item;\npub fn g() -> Option<Item> { None }\n"),
    ]);
    let c = t.analyze(&[]);
    assert_eq!(c.cycles(), vec![vec!["m/a.rs", "m/b.rs"]]);
    assert!(c.has_edge("m/b.rs", "m/a.rs"));
    assert!(!c.has_edge("m/b.rs", "m/mod.rs"));
}

#[test]
fn a_parent_that_only_reexports_makes_no_cycle() {
    let t = Tree::new(&[
        ("lib.rs", "pub mod sessions;\n"),
        (
            "sessions/mod.rs",
            "mod error;\nmod session;\nmod store;\npub use self::error::SessionError;\n\
             pub use session::Session as AsyncSession;\npub use store::{self as st, Store};\n",
        ),
        ("sessions/error.rs", "pub struct SessionError;\n"),
        ("sessions/session.rs", "use super::SessionError;\npub struct Session(SessionError);\n"),
        ("sessions/store.rs", "use super::{AsyncSession, SessionError as E};\npub struct Store(AsyncSession, E);\n"),
    ]);
    let c = t.analyze(&[]);
    assert!(c.cycles().is_empty(), "{:?}", c.cycles());
    assert!(c.has_edge("sessions/store.rs", "sessions/session.rs"));
    assert!(c.has_edge("sessions/store.rs", "sessions/error.rs"));
    assert!(!c.has_edge("sessions/store.rs", "sessions/mod.rs"));
}

#[test]
fn test_only_code_makes_no_edges() {
    let t = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "pub fn f() { crate::b::g() }\n"),
        (
            "b.rs",
            "pub fn g() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::f;\n}\n\
             #[cfg(test)]\nfn helper() { crate::a::f() }\n",
        ),
    ]);
    let c = t.analyze(&[]);
    assert!(c.cycles().is_empty(), "{:?}", c.cycles());
    assert!(!c.has_edge("b.rs", "a.rs"));
}

#[test]
fn follows_imports_used_inline_globs_and_nested_dirs() {
    let t = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\npub mod s;\n"),
        ("a.rs", "use crate::b;\npub fn f() { b::g(); }\n"),
        ("b.rs", "use super::c::*;\npub fn g() { h(); }\n"),
        ("c.rs", "pub fn h() { let b = 1; let _ = b; }\n"),
        ("s/mod.rs", "pub mod redis;\n"),
        ("s/redis.rs", "mod wire;\npub const MARKER: u8 = 1;\nfn f(wire: u8) { let _ = wire; wire::w(); }\n"),
        ("s/redis/wire.rs", "pub fn w() -> u8 { super::MARKER }\n"),
    ]);
    let c = t.analyze(&[]);
    assert!(c.has_edge("a.rs", "b.rs"));
    assert!(c.has_edge("b.rs", "c.rs"));
    assert!(!c.has_edge("c.rs", "b.rs"), "a local `b` is not the module");
    assert_eq!(c.cycles(), vec![vec!["s/redis.rs", "s/redis/wire.rs"]]);
}

const CORE: &[(&str, &str)] = &[
    ("lib.rs", "mod inject;\nmod response;\npub mod login;\npub mod sessions;\npub use inject::Ctx;\npub use response::Headers;\n"),
    ("inject.rs", "pub struct Ctx;\nimpl Ctx {\n    pub async fn __resolve(&self) {}\n    pub(crate) fn parts(&self) {}\n}\n"),
    ("response.rs", "pub struct Headers;\npub(crate) fn text() -> Headers { Headers }\n"),
    ("sessions/mod.rs", "mod store;\nmod backend;\npub use store::Store;\n"),
    ("sessions/backend.rs", "pub(crate) fn check() {}\n"),
];

fn with_core(extra: &[(&'static str, &'static str)]) -> Tree {
    let mut files = CORE.to_vec();
    files.extend_from_slice(extra);
    Tree::new(&files)
}

#[test]
fn an_addon_using_internals_is_reported() {
    let t = with_core(&[
        ("sessions/store.rs", "pub struct Store;\nfn f() { super::backend::check(); }\n"),
        (
            "login.rs",
            "use crate::Ctx;\n\npub async fn f(ctx: &Ctx) {\n    ctx.__resolve().await;\n    \
             let _ = crate::response::text();\n    ctx.parts();\n}\n",
        ),
    ]);
    let c = t.analyze(&["sessions", "login"]);
    let v = c.violations();
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(v[0].starts_with("login.rs:4 uses .__resolve() (a `__` name"), "{v:#?}");
    assert!(v[1].starts_with("login.rs:5 uses crate::response::text (defined in "), "{v:#?}");
    assert!(v[1].ends_with("visibility pub(crate))"), "{v:#?}");
    assert!(v[2].starts_with("login.rs:6 uses .parts() (matched by name to crate::inject::Ctx::parts"), "{v:#?}");
}

#[test]
fn an_addon_using_reexported_public_items_is_fine() {
    let t = with_core(&[
        ("sessions/store.rs", "pub struct Store;\n"),
        ("login.rs", "use crate::{Ctx, Headers};\nuse crate::sessions::Store;\npub fn f(_: &Ctx, _: Store) -> Headers { crate::Headers }\n"),
    ]);
    let c = t.analyze(&["sessions", "login"]);
    assert!(c.violations().is_empty(), "{:#?}", c.violations());
}

#[test]
fn each_addon_is_its_own_unit() {
    // store may use backend's pub(crate) fn (same addon); login may not.
    let t = with_core(&[
        ("sessions/store.rs", "pub struct Store;\nfn f() { super::backend::check(); }\n"),
        ("login.rs", "pub fn f() { crate::sessions::backend::check(); }\n"),
    ]);
    let c = t.analyze(&["sessions", "login"]);
    let v = c.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].starts_with("login.rs:1 uses crate::sessions::backend::check (defined in "), "{v:#?}");
}

#[test]
fn a_public_item_named_through_a_private_module_is_reported_with_its_public_path() {
    let t = with_core(&[
        ("sessions/store.rs", "pub struct Store;\n"),
        ("login.rs", "use crate::response::Headers;\npub fn f() -> Headers { Headers }\n"),
    ]);
    let v = t.analyze(&["login"]).violations();
    assert_eq!(
        v,
        vec![
            "login.rs:1 uses crate::response::Headers (public as crate::Headers; crate::response is a private module)"
        ]
    );
}

#[test]
fn arguments() {
    let args = |s: &str| crate::parse_args(s.split_whitespace().map(str::to_string));
    let a = args("modules uapi/src").unwrap();
    assert_eq!(a.src, Path::new("uapi/src"));
    assert_eq!(a.addons, ["sessions", "login", "workers", "testing"]);
    assert!(a.dot.is_none() && !a.allow_private_paths);
    let a = args("modules src --addons a,b::c --dot g.dot --allow-private-paths").unwrap();
    assert_eq!(a.addons, ["a", "b::c"]);
    assert_eq!(a.dot.as_deref(), Some(Path::new("g.dot")));
    assert!(a.allow_private_paths);
    assert!(args("modules").is_err());
    assert!(args("graph src").is_err());
    assert!(args("modules src --bogus").is_err());
}

/// The README's Rust blocks are found as rustdoc finds them: `rust` (with
/// `no_run`) and bare fences; `text`, `sh`, `ignore` left out; hidden lines
/// compiled; a snippet without `main` wrapped in one.
#[test]
fn newcomer_takes_the_rust_snippets_as_rustdoc_would() {
    let md = "intro\n```rust\nlet a = 1;\n# let b = a;\n```\n```sh\ncargo run\n```\n```rust,no_run\nfn main() {}\n```\n```\n#\nx();\n```\n```rust,ignore\nnope\n```\n```text\nplain\n```\n";
    let found = crate::newcomer::snippets(md);
    let codes: Vec<&str> = found.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes, ["let a = 1;\nlet b = a;\n", "fn main() {}\n", "\nx();\n"]);
    assert_eq!(found[0].line, 2);
    assert!(crate::newcomer::program(&found[0]).contains("fn main() {\nlet a = 1;"));
    assert!(!crate::newcomer::program(&found[1]).contains("fn main() {\nfn main"));
}
