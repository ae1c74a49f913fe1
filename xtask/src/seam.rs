//! The addon seam: code in an addon (`crate::sessions`, `crate::login`, ...) may reach the rest
//! of the crate only the way a user of the crate could, so that each addon could live in a crate
//! of its own with `crate::` replaced by `uapi::`. Each top-level addon is its own unit: inside a
//! unit anything goes; across units (login -> sessions) the rule towards the core applies too.

use std::collections::{HashMap, HashSet};

use crate::model::{Crate, FileId, Member, ModId, Vis};
use crate::refs::{FileRefs, Ref};
use crate::resolve::{Public, Target};

pub struct Violation {
    pub file: FileId,
    pub line: usize,
    pub message: String,
    /// Further references from the same file to the same thing, not listed one by one.
    pub more: usize,
    /// A public item named through a private module: fixed by changing the path alone.
    pub private_path: bool,
}

/// One finding before grouping: `key` groups repeated references from a file to the same thing.
struct Problem {
    key: String,
    message: String,
    private_path: bool,
}

impl Problem {
    fn new(key: String, message: String) -> Problem {
        Problem { key, message, private_path: false }
    }
}

/// The module of each `--addons` name (`sessions`, `crate::sessions` or `a::b`).
pub fn addon_modules(c: &Crate, names: &[String]) -> Result<Vec<ModId>, String> {
    let mut out = Vec::new();
    for name in names {
        let mut m = crate::model::ROOT;
        for seg in name.trim_start_matches("crate::").split("::") {
            m = *c.modules[m].children.get(seg).ok_or_else(|| format!("addon module crate::{name} not found"))?;
        }
        out.push(m);
    }
    Ok(out)
}

/// Which addon (index into `addons`) module `m` belongs to, if any.
fn unit_of(c: &Crate, addons: &[ModId], mut m: ModId) -> Option<usize> {
    loop {
        if let Some(i) = addons.iter().position(|&a| a == m) {
            return Some(i);
        }
        m = c.modules[m].parent?;
    }
}

type Members = HashMap<(ModId, String), HashMap<String, Member>>;

struct Checker<'c> {
    c: &'c Crate,
    addons: &'c [ModId],
    public: Public,
    methods: Members,
    out: Vec<Violation>,
    seen: HashMap<(FileId, String), usize>,
}

pub fn check(c: &Crate, refs: &[FileRefs], addons: &[ModId]) -> Vec<Violation> {
    let (public, methods) = (Public::of(c), c.method_index());
    let mut ch = Checker { c, addons, public, methods, out: Vec::new(), seen: HashMap::new() };
    let mut unit_members: Vec<HashSet<&str>> = vec![HashSet::new(); addons.len()];
    for file in &c.files {
        if let Some(u) = unit_of(c, addons, file.module) {
            unit_members[u].extend(file.members.iter().map(String::as_str));
        }
    }
    for (f, fr) in refs.iter().enumerate() {
        let Some(unit) = unit_of(c, addons, c.files[f].module) else { continue };
        // Types of other units this file names: the only ones its `.x` accesses are checked against.
        let mut named = Vec::new();
        for r in &fr.refs {
            let module = match &r.resolved.target {
                Target::Item(m, _) | Target::Module(m) => Some(*m),
                Target::External => None,
            };
            if module.is_some_and(|m| unit_of(c, addons, m) == Some(unit)) {
                continue;
            }
            if let Target::Item(m, name) = &r.resolved.target {
                named.push((*m, name.clone()));
            }
            if let Some(problem) = ch.ref_problem(unit, r) {
                ch.report(f, r.line, problem);
            }
        }
        for mu in &fr.members {
            let what = if mu.call { format!(".{}()", mu.name) } else { format!(".{}", mu.name) };
            let message = if mu.name.starts_with("__") {
                Some(format!("uses {what} (a `__` name: not public API)"))
            } else if (mu.call && c.trait_fns.contains(&mu.name)) || unit_members[unit].contains(mu.name.as_str()) {
                None
            } else {
                ch.member_by_name(&named, &mu.name, mu.call).map(|why| format!("uses {what} ({why})"))
            };
            if let Some(message) = message {
                ch.report(f, mu.line, Problem::new(what, message));
            }
        }
    }
    ch.out.sort_by(|a, b| (&c.files[a.file].path, a.line).cmp(&(&c.files[b.file].path, b.line)));
    ch.out
}

impl Checker<'_> {
    fn report(&mut self, file: FileId, line: usize, p: Problem) {
        match self.seen.get(&(file, p.key.clone())) {
            Some(&i) => self.out[i].more += 1,
            None => {
                self.seen.insert((file, p.key), self.out.len());
                let private_path = p.private_path;
                self.out.push(Violation { file, line, message: p.message, more: 0, private_path });
            }
        }
    }

    fn location(&self, file: FileId, line: usize) -> String {
        format!("{}:{line}", self.c.files[file].path.display())
    }

    /// Why a reference from an addon (`unit`) to outside it is not through public API, with the key
    /// that groups repeated references to the same thing.
    fn ref_problem(&self, unit: usize, r: &Ref) -> Option<Problem> {
        let (c, written) = (self.c, r.written());
        let what = c.canonical(&r.resolved.target);
        if r.has_dunder() {
            return Some(Problem::new(what, format!("uses {written} (a `__` name: not public API)")));
        }
        match &r.resolved.target {
            Target::External => None,
            Target::Module(m) if !self.public.modules.contains_key(m) => {
                let md = &c.modules[*m];
                let at = c.files[md.file].path.display();
                let message =
                    format!("uses {written} (module {} in {at}, {}, not re-exported publicly)", md.display(), md.vis);
                Some(Problem::new(what, message))
            }
            Target::Module(_) => self.private_hop(unit, r),
            Target::Item(m, name) => {
                let md = &c.modules[*m];
                let line = md.items.get(name).map_or(0, |i| i.line);
                let at = self.location(md.file, line);
                if let Some(why) = self.public.item_problem(c, *m, name) {
                    let message = format!("uses {written} (defined in {at} as {what}, {why})");
                    return Some(Problem::new(what, message));
                }
                if let Some(method) = r.resolved.rest.first() {
                    let member = self.methods.get(&(*m, name.clone())).and_then(|ms| ms.get(method));
                    if let Some(why) = member.and_then(|mb| self.member_problem(mb)) {
                        let at = member.map(|mb| self.location(mb.file, mb.line)).unwrap_or_default();
                        let key = format!("{what}::{method}");
                        let message = format!("uses {written} (defined in {at} as {key}, {why})");
                        return Some(Problem::new(key, message));
                    }
                }
                self.private_hop(unit, r)
            }
        }
    }

    /// A public item named through a private module (`crate::handler::Injectable` for what users
    /// know as `crate::Injectable`): the path would not compile outside the crate.
    fn private_hop(&self, unit: usize, r: &Ref) -> Option<Problem> {
        let c = self.c;
        for i in 1..r.segs.len() {
            let Target::Module(m) = c.resolve(r.module, &r.segs[..i], r.leading_colon, &[]).target else { break };
            if self.public.modules.contains_key(&m) || unit_of(c, self.addons, m) == Some(unit) {
                continue;
            }
            let public = match &r.resolved.target {
                Target::Item(dm, name) => self.public.item_path(*dm, name),
                Target::Module(dm) => self.public.modules.get(dm).cloned(),
                Target::External => None,
            };
            let what = c.canonical(&r.resolved.target);
            let via = c.modules[m].display();
            let public = public.map_or(String::new(), |p| format!("public as {p}; "));
            let message = format!("uses {} ({public}{via} is a private module)", r.written());
            return Some(Problem { key: what, message, private_path: true });
        }
        None
    }

    fn member_problem(&self, m: &Member) -> Option<String> {
        match (&m.vis, m.hidden) {
            (Vis::Pub, false) => None,
            (Vis::Pub, true) => Some("pub but #[doc(hidden)]".to_string()),
            (vis, _) => Some(format!("visibility {vis}")),
        }
    }

    /// `.name(..)` or `.name` where `name` is, among the types of other units this file names, only
    /// a non-public member. Receivers' types are not known: this is a match by name.
    fn member_by_name(&self, named: &[(ModId, String)], name: &str, call: bool) -> Option<String> {
        let members = if call { &self.methods } else { &self.c.fields };
        let mut found = named.iter().filter_map(|ty| Some((ty, members.get(ty)?.get(name)?)));
        let (ty, first) = found.next()?;
        if self.member_problem(first).is_none() || found.any(|(_, m)| self.member_problem(m).is_none()) {
            return None;
        }
        let why = self.member_problem(first)?;
        let at = self.location(first.file, first.line);
        let owner = format!("{}::{}::{name}", self.c.modules[ty.0].display(), ty.1);
        Some(format!("matched by name to {owner} at {at}, {why}"))
    }
}
