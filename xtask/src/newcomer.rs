//! `xtask newcomer README OUT UAPI_DIR`: a fresh crate, outside the workspace,
//! as a new user would start one: it depends on uapi by path and holds every
//! Rust snippet of the README as an example (rustdoc's rules: hidden `# `
//! lines kept, a snippet without `fn main` wrapped in one), plus a library
//! with a documented handler. CI builds it with every warning an error, so a
//! lint the `#[handler]` expansion trips in user code fails the build, and
//! documents it, to check that rustdoc shows the handler as written.

use std::fmt::Write as _;
use std::path::Path;

/// One Rust snippet of the README: where it starts, and its code.
#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    pub line: usize,
    pub code: String,
}

/// The Rust code blocks of a Markdown text, as rustdoc would compile them
/// (`ignore`, `compile_fail` and non-Rust blocks left out).
pub fn snippets(markdown: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let tags: Vec<&str> = info.split(',').map(str::trim).collect();
                    // A bare fence is Rust to rustdoc, too.
                    let rust = matches!(tags.first(), Some(&"rust" | &""));
                    let skipped = tags.iter().any(|t| matches!(*t, "ignore" | "compile_fail" | "text"));
                    // 0: another kind of block, skipped to its end.
                    let start = if rust && !skipped { i + 1 } else { 0 };
                    current = Some((start, String::new()));
                }
            }
            Some((start, code)) => {
                if trimmed.starts_with("```") {
                    if *start > 0 {
                        out.push(Snippet { line: *start, code: std::mem::take(code) });
                    }
                    current = None;
                } else if *start > 0 {
                    // rustdoc's hidden lines: `# code` and a lone `#` are compiled.
                    let unhidden = match trimmed {
                        "#" => "",
                        t if t.starts_with("# ") => &t[2..],
                        _ => line,
                    };
                    code.push_str(unhidden);
                    code.push('\n');
                }
            }
        }
    }
    out
}

/// A snippet as a program: as is when it has a `main`, else inside one.
pub fn program(snippet: &Snippet) -> String {
    let header = format!("//! README.md, the snippet at line {}.\n\n", snippet.line);
    if snippet.code.contains("fn main") {
        format!("{header}{}", snippet.code)
    } else {
        format!("{header}fn main() {{\n{}}}\n", snippet.code)
    }
}

const LIB: &str = r#"//! A library with one documented handler: `cargo doc` must show it as written.

use uapi::status::NotFound;
use uapi::{handler, App};

/// The article with this id.
#[handler]
pub async fn get_article(article_id: u64) -> Result<String, NotFound<&'static str>> {
    if article_id == 1 { Ok("the first".to_owned()) } else { Err(NotFound::new("no such article")) }
}

/// The app, routing to the handler: documenting it must not trip on the
/// handler's documented signature.
pub fn app() -> App {
    let mut app = App::new();
    app.get("/articles/{article_id}", get_article);
    app
}
"#;

/// Writes the crate into `out`, depending on the uapi crate at `uapi_dir`.
pub fn write(readme: &Path, out: &Path, uapi_dir: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let uapi_dir = uapi_dir.canonicalize().map_err(|e| format!("{}: {e}", uapi_dir.display()))?;
    let examples = out.join("examples");
    let _ = std::fs::remove_dir_all(&examples);
    for dir in [&examples, &out.join("src")] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut manifest = String::new();
    let _ = write!(
        manifest,
        r#"[package]
name = "newcomer"
version = "0.0.0"
edition = "2021"
publish = false

# Not part of any workspace: a crate as a new user starts one.
[workspace]

[dependencies]
uapi = {{ path = "{}", features = ["redis", "workers"] }}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}
serde = {{ version = "1", features = ["derive"] }}
schemars = "1"
serde_json = "1"
http = "1"
tower = {{ version = "0.5", features = ["util"] }}
tower-http = {{ version = "0.6", features = ["cors", "compression-gzip", "timeout"] }}
"#,
        uapi_dir.display().to_string().replace('\\', "/")
    );
    let snippets = snippets(&text);
    for (i, s) in snippets.iter().enumerate() {
        let _ = write!(manifest, "\n[[example]]\nname = \"readme_{i}\"\npath = \"examples/readme_{i}.rs\"\n");
        let path = examples.join(format!("readme_{i}.rs"));
        std::fs::write(&path, program(s)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let files = [(out.join("Cargo.toml"), manifest), (out.join("src/lib.rs"), LIB.to_owned())];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(snippets.len())
}
