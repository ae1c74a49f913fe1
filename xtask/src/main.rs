//! Repository checks run by CI.
//!
//! `xtask modules SRC [--addons a,b,..] [--dot FILE]` reads the crate under `SRC` (from `lib.rs`,
//! following `mod x;`) and fails when
//! - two files depend on each other, directly or through others (a cycle in the file graph,
//!   where A -> B when A refers to an item B defines, re-exports resolved to the definition), or
//! - an addon module reaches the rest of the crate other than through its public API.
//!
//! Exit status: 0 clean, 1 findings, 2 the check could not run (bad arguments, unreadable source).
//!
//! `xtask newcomer README OUT UAPI_DIR` writes a crate outside the workspace that holds the
//! README's Rust snippets as examples (see `newcomer`), for CI to build as a new user would.

mod graph;
mod model;
mod newcomer;
mod refs;
mod resolve;
mod seam;
mod syntax;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use model::{Crate, FileId};

const USAGE: &str = "usage: xtask modules SRC_DIR [--addons a,b,..] [--dot FILE] [--allow-private-paths]";
const DEFAULT_ADDONS: &str = "sessions,login,workers,testing";

/// Everything the check found in one crate.
pub struct Analysis {
    pub krate: Crate,
    pub edges: Vec<graph::Edge>,
    pub cycles: Vec<Vec<FileId>>,
    pub violations: Vec<seam::Violation>,
}

impl Analysis {
    pub fn file(&self, f: FileId) -> String {
        self.krate.files[f].path.display().to_string()
    }
}

pub fn analyze(src: &Path, addons: &[String]) -> Result<Analysis, String> {
    let krate = Crate::load(src)?;
    let addon_mods = seam::addon_modules(&krate, addons)?;
    let refs: Vec<_> = (0..krate.files.len()).map(|f| refs::collect(&krate, f)).collect();
    let edges = graph::edges(&krate, &refs);
    let cycles = graph::cycles(krate.files.len(), &edges);
    let violations = seam::check(&krate, &refs, &addon_mods);
    Ok(Analysis { krate, edges, cycles, violations })
}

/// The human-readable report: cycles with one example reference per edge, then violations.
pub fn report(a: &Analysis, src: &Path, addons: &[String]) -> String {
    let mut out = String::new();
    for (i, scc) in a.cycles.iter().enumerate() {
        let names: Vec<_> = scc.iter().map(|&f| a.file(f)).collect();
        out += &format!("cycle {} ({} files): {}\n", i + 1, scc.len(), names.join(", "));
        for e in a.edges.iter().filter(|e| scc.contains(&e.from) && scc.contains(&e.to)) {
            out += &format!("  {}:{} {} -> {} ({})\n", a.file(e.from), e.line, e.written, a.file(e.to), e.target);
        }
    }
    if !a.violations.is_empty() {
        out += &format!("seam violations (addons: {}):\n", addons.join(", "));
        for v in &a.violations {
            let more = if v.more > 0 { format!(" [+{} more in this file]", v.more) } else { String::new() };
            out += &format!("  {}:{} {}{more}\n", a.file(v.file), v.line, v.message);
        }
    }
    let cycles = match a.cycles.len() {
        0 => "no cycles".to_string(),
        1 => "1 cycle".to_string(),
        n => format!("{n} cycles"),
    };
    let paths = a.violations.iter().filter(|v| v.private_path).count();
    let paths =
        if paths > 0 { format!(" ({paths} of them only a private path to a public item)") } else { String::new() };
    out += &format!(
        "modules of {}: {} files, {} edges, {cycles}, {} seam violations{paths}\n",
        src.display(),
        a.krate.files.len(),
        a.edges.len(),
        a.violations.len()
    );
    out
}

struct Args {
    src: PathBuf,
    addons: Vec<String>,
    dot: Option<PathBuf>,
    /// Accept public items named through a private module (`crate::handler::Injectable`).
    allow_private_paths: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    if args.next().as_deref() != Some("modules") {
        return Err(USAGE.to_string());
    }
    let (mut src, mut addons, mut dot, mut allow_private_paths) = (None, DEFAULT_ADDONS.to_string(), None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addons" => addons = args.next().ok_or(USAGE)?,
            "--dot" => dot = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--allow-private-paths" => allow_private_paths = true,
            _ if arg.starts_with('-') || src.is_some() => return Err(format!("unexpected {arg:?}\n{USAGE}")),
            _ => src = Some(PathBuf::from(arg)),
        }
    }
    let addons = addons.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    Ok(Args { src: src.ok_or(USAGE)?, addons, dot, allow_private_paths })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("newcomer") {
        let rest: Vec<String> = args.skip(1).collect();
        let [readme, out, uapi] = rest.as_slice() else {
            eprintln!("usage: xtask newcomer README.md OUT_DIR UAPI_CRATE_DIR");
            return ExitCode::from(2);
        };
        return match newcomer::write(Path::new(readme), Path::new(out), Path::new(uapi)) {
            Ok(n) => {
                println!("newcomer crate in {out}: {n} README snippets as examples");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let started = Instant::now();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut analysis = match analyze(&args.src, &args.addons) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.allow_private_paths {
        analysis.violations.retain(|v| !v.private_path);
    }
    if let Some(dot) = &args.dot {
        let text = graph::dot(&analysis.krate, &analysis.edges, &analysis.cycles);
        if let Err(e) = std::fs::write(dot, text) {
            eprintln!("error: {}: {e}", dot.display());
            return ExitCode::from(2);
        }
    }
    print!("{}", report(&analysis, &args.src, &args.addons));
    eprintln!("(checked in {} ms)", started.elapsed().as_millis());
    if analysis.cycles.is_empty() && analysis.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
