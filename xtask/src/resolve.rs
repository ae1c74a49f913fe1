//! Name resolution, the part of rustc's that matters for a dependency graph: a path is followed
//! through `use` and `pub use` chains (renames, groups, globs) to the module that DEFINES the item,
//! so `use super::SessionError` in `sessions/store.rs` counts against `sessions/error.rs`, not
//! against the `mod.rs` that merely re-exports it. Visibility is ignored while resolving (the
//! compiler already checked it); the seam check looks at it afterwards.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

use crate::model::{Crate, FileId, Import, Member, ModId, Vis, ROOT};

/// What a path names inside the crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An item of a module. The name may be absent from the module's items when a macro
    /// invocation there is assumed to define it (see `Module::macro_items`).
    Item(ModId, String),
    Module(ModId),
    /// Another crate, the prelude, a generic parameter, a local: nothing of this crate's modules.
    External,
}

/// A resolved path: its target, and the segments left after reaching an item
/// (`Type::method`, `Enum::Variant`).
#[derive(Clone, Debug)]
pub struct Resolved {
    pub target: Target,
    pub rest: Vec<String>,
}

/// The names a block (a fn body, ...) brings into scope ahead of the module's own.
#[derive(Default)]
pub struct BlockScope {
    pub imports: HashMap<String, Import>,
    /// Block-local items: they shadow module-level names.
    pub items: HashSet<String>,
    /// `let` bindings and fn parameters: they shadow module-level names only as a whole path
    /// (`x`, not the `x` of `x::y`, which is looked up among types and modules).
    pub bindings: HashSet<String>,
}

/// Resolution follows `use` chains; a chain longer than this is taken as a loop.
const MAX_DEPTH: usize = 48;

impl Crate {
    /// The file a target lives in, if it is in this crate.
    pub fn target_file(&self, t: &Target) -> Option<FileId> {
        match t {
            Target::Item(m, _) | Target::Module(m) => Some(self.modules[*m].file),
            Target::External => None,
        }
    }

    /// `crate::a::b::Item` for a target.
    pub fn canonical(&self, t: &Target) -> String {
        match t {
            Target::Item(m, name) => format!("{}::{name}", self.modules[*m].display()),
            Target::Module(m) => self.modules[*m].display(),
            Target::External => "(external)".to_string(),
        }
    }

    /// Resolves `segs` as written in module `from`, with the enclosing blocks' scopes.
    pub fn resolve(&self, from: ModId, segs: &[String], leading_colon: bool, locals: &[BlockScope]) -> Resolved {
        self.resolve_at(from, segs, leading_colon, locals, 0)
    }

    fn resolve_at(&self, from: ModId, segs: &[String], colon: bool, locals: &[BlockScope], depth: usize) -> Resolved {
        let external = Resolved { target: Target::External, rest: Vec::new() };
        if colon || segs.is_empty() || depth > MAX_DEPTH {
            return external;
        }
        let first = match segs[0].as_str() {
            "crate" => Some(Target::Module(ROOT)),
            "self" => Some(Target::Module(from)),
            "super" => self.modules[from].parent.map(Target::Module),
            "Self" => None,
            name => self.first_segment(from, name, segs.len() == 1, locals, depth),
        };
        let Some(mut cur) = first else { return external };
        let mut i = 1;
        while i < segs.len() {
            let Target::Module(m) = cur else { break };
            let seg = &segs[i];
            cur = match seg.as_str() {
                "super" => match self.modules[m].parent {
                    Some(p) => Target::Module(p),
                    None => return external,
                },
                "self" => Target::Module(m),
                // A name the module does not declare: most likely made by a macro there. Still an
                // edge to that module's file, and the seam check treats its visibility as unknown.
                name => self.lookup(m, name, depth).unwrap_or_else(|| Target::Item(m, name.to_string())),
            };
            i += 1;
        }
        Resolved { target: cur, rest: segs[i..].to_vec() }
    }

    /// The first segment of a relative path: block scopes, then the module's own names. Anything
    /// not found is another crate or the prelude.
    fn first_segment(
        &self,
        from: ModId,
        name: &str,
        whole: bool,
        locals: &[BlockScope],
        depth: usize,
    ) -> Option<Target> {
        for scope in locals.iter().rev() {
            if scope.items.contains(name) || (whole && scope.bindings.contains(name)) {
                return None;
            }
            if let Some(imp) = scope.imports.get(name) {
                return Some(self.resolve_at(from, &imp.segs, imp.leading_colon, &[], depth + 1).target);
            }
        }
        self.lookup(from, name, depth)
    }

    /// A name in module `m`'s namespace: its items, child modules, imports, then glob imports.
    pub fn lookup(&self, m: ModId, name: &str, depth: usize) -> Option<Target> {
        if depth > MAX_DEPTH {
            return None;
        }
        let md = &self.modules[m];
        if md.items.contains_key(name) {
            return Some(Target::Item(m, name.to_string()));
        }
        if let Some(&child) = md.children.get(name) {
            return Some(Target::Module(child));
        }
        if let Some(imp) = md.imports.get(name) {
            return Some(self.resolve_at(m, &imp.segs, imp.leading_colon, &[], depth + 1).target);
        }
        md.globs.iter().find_map(|g| match self.resolve_at(m, &g.segs, g.leading_colon, &[], depth + 1).target {
            Target::Module(gm) if gm != m => self.lookup(gm, name, depth + 1),
            _ => None,
        })
    }

    /// Inherent methods and associated consts per resolved type.
    pub fn method_index(&self) -> HashMap<(ModId, String), HashMap<String, Member>> {
        let mut ix: HashMap<(ModId, String), HashMap<String, Member>> = HashMap::new();
        for imp in &self.impls {
            let r = self.resolve(imp.module, &imp.self_segs, false, &[]);
            if let (Target::Item(m, ty), true) = (r.target, r.rest.is_empty()) {
                let methods = ix.entry((m, ty)).or_default();
                for (name, member) in &imp.methods {
                    methods.entry(name.clone()).or_insert(member.clone());
                }
            }
        }
        ix
    }
}

/// What a user of the crate can name, each with one public path to it (the shortest found):
/// modules reachable through `pub mod` chains and `pub use` of modules, and items re-exported with
/// `pub use` from such a module. Names starting with `__` and `#[doc(hidden)]` ones are never
/// part of it (uapi's `__private` is for generated code).
#[derive(Default)]
pub struct Public {
    pub modules: HashMap<ModId, String>,
    pub items: HashMap<(ModId, String), String>,
}

impl Public {
    pub fn of(c: &Crate) -> Public {
        let mut p = Public::default();
        p.modules.insert(ROOT, "crate".to_string());
        let mut work = VecDeque::from([ROOT]);
        while let Some(m) = work.pop_front() {
            let (md, here) = (&c.modules[m], p.modules[&m].clone());
            let mut reached = Vec::new();
            let mut children: Vec<_> = md.children.iter().collect();
            children.sort();
            for (name, &child) in children {
                let cm = &c.modules[child];
                if cm.vis == Vis::Pub && !cm.hidden && !name.starts_with("__") {
                    reached.push((child, format!("{here}::{name}")));
                }
            }
            let mut exports: Vec<_> =
                md.imports.iter().filter(|(n, imp)| imp.vis == Vis::Pub && !n.starts_with("__")).collect();
            exports.sort_by_key(|(n, _)| *n);
            for (alias, imp) in exports {
                let r = c.resolve(m, &imp.segs, imp.leading_colon, &[]);
                match r.target {
                    Target::Item(dm, name) if r.rest.is_empty() => {
                        p.items.entry((dm, name)).or_insert(format!("{here}::{alias}"));
                    }
                    Target::Module(x) => reached.push((x, format!("{here}::{alias}"))),
                    _ => {}
                }
            }
            for glob in md.globs.iter().filter(|g| g.vis == Vis::Pub) {
                if let Target::Module(x) = c.resolve(m, &glob.segs, glob.leading_colon, &[]).target {
                    reached.push((x, here.clone()));
                }
            }
            for (x, path) in reached {
                if let Entry::Vacant(slot) = p.modules.entry(x) {
                    slot.insert(path);
                    work.push_back(x);
                }
            }
        }
        p
    }

    /// One public path to item `name` of module `m`, if it is reachable at all (its own
    /// visibility aside).
    pub fn item_path(&self, m: ModId, name: &str) -> Option<String> {
        let key = (m, name.to_string());
        self.items.get(&key).cloned().or_else(|| self.modules.get(&m).map(|p| format!("{p}::{name}")))
    }

    /// Why item `name` of module `m` is not public API, or `None` when it is.
    pub fn item_problem(&self, c: &Crate, m: ModId, name: &str) -> Option<String> {
        let reachable = self.item_path(m, name).is_some();
        let Some(item) = c.modules[m].items.get(name) else {
            return (!reachable).then(|| format!("visibility {}, not publicly reachable", Vis::Unknown));
        };
        if item.vis != Vis::Pub {
            Some(format!("visibility {}", item.vis))
        } else if item.hidden || name.starts_with("__") {
            Some("pub but #[doc(hidden)] or `__`-named: for generated code only".to_string())
        } else if !reachable {
            Some("pub, but in a private module that no public `pub use` re-exports it from".to_string())
        } else {
            None
        }
    }
}
