//! The crate's module tree as read from its files: which file holds which module, and what each
//! module defines, imports and re-exports. Edges, cycles and the seam check are all lookups in it,
//! so it keeps only names, visibilities and line numbers, never types.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::syntax::{flatten_use, is_cfg_test, is_doc_hidden, item_attrs, line_of, path_attr, path_segs};

pub type ModId = usize;
pub type FileId = usize;

/// The root module (`lib.rs`) is always the first one loaded.
pub const ROOT: ModId = 0;

/// A declared visibility. `Unknown` is for names a module gets from a macro invocation, which
/// the tool does not expand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vis {
    Pub,
    Crate,
    Super,
    In(String),
    Private,
    Unknown,
}

impl Vis {
    pub fn of(v: &syn::Visibility) -> Vis {
        match v {
            syn::Visibility::Public(_) => Vis::Pub,
            syn::Visibility::Inherited => Vis::Private,
            syn::Visibility::Restricted(r) => match path_segs(&r.path).join("::").as_str() {
                "crate" => Vis::Crate,
                "super" => Vis::Super,
                "self" => Vis::Private,
                other => Vis::In(other.to_string()),
            },
        }
    }
}

impl fmt::Display for Vis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vis::Pub => f.write_str("pub"),
            Vis::Crate => f.write_str("pub(crate)"),
            Vis::Super => f.write_str("pub(super)"),
            Vis::In(p) => write!(f, "pub(in {p})"),
            Vis::Private => f.write_str("private"),
            Vis::Unknown => f.write_str("unknown (macro-generated)"),
        }
    }
}

/// An item a module defines (struct, fn, trait, macro_rules, ...), in either namespace.
#[derive(Debug)]
pub struct Item {
    pub kind: &'static str,
    pub vis: Vis,
    pub line: usize,
    pub hidden: bool,
}

/// A `use` binding: the path as written, resolved relative to the module that holds it.
#[derive(Clone, Debug)]
pub struct Import {
    pub segs: Vec<String>,
    pub leading_colon: bool,
    pub vis: Vis,
    pub line: usize,
}

/// A member of a type: a method or associated const of an inherent `impl` block, or a named field.
#[derive(Clone, Debug)]
pub struct Member {
    pub vis: Vis,
    pub hidden: bool,
    pub line: usize,
    pub file: FileId,
}

#[derive(Debug)]
pub struct Module {
    /// Segments after `crate`; empty for the root.
    pub path: Vec<String>,
    pub parent: Option<ModId>,
    /// The file its body is in (an inline module's is its parent's file).
    pub file: FileId,
    pub vis: Vis,
    pub hidden: bool,
    pub items: HashMap<String, Item>,
    pub children: HashMap<String, ModId>,
    pub imports: HashMap<String, Import>,
    pub globs: Vec<Import>,
    /// Whether item-position macro invocations (e.g. `statuses! { .. }`) may define names here.
    pub macro_items: bool,
}

impl Module {
    pub fn display(&self) -> String {
        std::iter::once("crate").chain(self.path.iter().map(String::as_str)).collect::<Vec<_>>().join("::")
    }
}

pub struct SourceFile {
    /// The path as shown in reports: the source root given on the command line joined with the file.
    pub path: PathBuf,
    pub module: ModId,
    pub ast: syn::File,
    /// Every fn, method and field name defined in the file (the by-name member check skips them).
    pub members: HashSet<String>,
}

/// An inherent `impl Type { .. }`, kept until every module is known and `Type` can be resolved.
pub struct RawImpl {
    pub module: ModId,
    pub self_segs: Vec<String>,
    pub methods: Vec<(String, Member)>,
}

#[derive(Default)]
pub struct Crate {
    pub files: Vec<SourceFile>,
    pub modules: Vec<Module>,
    pub impls: Vec<RawImpl>,
    /// Named fields of each struct, by the struct's (module, name).
    pub fields: HashMap<(ModId, String), HashMap<String, Member>>,
    /// Names of fns declared in traits: a method call of such a name may be the trait's.
    pub trait_fns: HashSet<String>,
}

/// Where a module's file and the directory of its own `mod x;` children are.
struct Place {
    file: PathBuf,
    children_dir: PathBuf,
}

impl Crate {
    /// Reads `lib.rs` (or `main.rs`) under `root` and every file module reachable through `mod x;`.
    pub fn load(root: &Path) -> Result<Crate, String> {
        let lib = ["lib.rs", "main.rs"].iter().map(|f| root.join(f)).find(|p| p.is_file());
        let lib = lib.ok_or_else(|| format!("{}: no lib.rs or main.rs", root.display()))?;
        let mut c = Crate::default();
        let place = Place { file: lib, children_dir: root.to_path_buf() };
        c.add_file(place, Vec::new(), None, Vis::Pub, false)?;
        Ok(c)
    }

    fn new_module(&mut self, path: Vec<String>, parent: Option<ModId>, file: FileId, vis: Vis, hidden: bool) -> ModId {
        self.modules.push(Module {
            path,
            parent,
            file,
            vis,
            hidden,
            items: HashMap::new(),
            children: HashMap::new(),
            imports: HashMap::new(),
            globs: Vec::new(),
            macro_items: false,
        });
        self.modules.len() - 1
    }

    fn add_file(
        &mut self,
        place: Place,
        path: Vec<String>,
        parent: Option<ModId>,
        vis: Vis,
        hidden: bool,
    ) -> Result<ModId, String> {
        let text = std::fs::read_to_string(&place.file).map_err(|e| format!("{}: {e}", place.file.display()))?;
        let ast = syn::parse_file(&text).map_err(|e| format!("{}:{}: {e}", place.file.display(), line_of(e.span())))?;
        let file = self.files.len();
        let empty = syn::File { shebang: None, attrs: Vec::new(), items: Vec::new() };
        self.files.push(SourceFile { path: place.file.clone(), module: 0, ast: empty, members: HashSet::new() });
        let module = self.new_module(path, parent, file, vis, hidden);
        self.files[file].module = module;
        let file_dir = place.file.parent().unwrap_or(Path::new("")).to_path_buf();
        self.collect(module, file, &ast.items, &place.children_dir, &file_dir)?;
        self.files[file].ast = ast;
        Ok(module)
    }

    /// Records what `items` (the body of module `m`) define, import and declare.
    fn collect(
        &mut self,
        m: ModId,
        file: FileId,
        items: &[syn::Item],
        children_dir: &Path,
        file_dir: &Path,
    ) -> Result<(), String> {
        for item in items {
            if is_cfg_test(item_attrs(item)) {
                continue;
            }
            let hidden = is_doc_hidden(item_attrs(item));
            let define = |c: &mut Crate, ident: &syn::Ident, kind, vis| {
                if ident != "_" {
                    let it = Item { kind, vis, line: line_of(ident.span()), hidden };
                    c.modules[m].items.entry(ident.to_string()).or_insert(it);
                }
            };
            match item {
                syn::Item::Mod(md) => self.collect_mod(m, file, md, children_dir, file_dir)?,
                syn::Item::Use(u) => {
                    let mut leaves = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut leaves);
                    let module = &mut self.modules[m];
                    for l in leaves {
                        let imp = Import {
                            segs: l.segs,
                            leading_colon: u.leading_colon.is_some(),
                            vis: Vis::of(&u.vis),
                            line: l.line,
                        };
                        match l.binding {
                            _ if l.glob => module.globs.push(imp),
                            Some(name) => {
                                module.imports.entry(name).or_insert(imp);
                            }
                            None => {}
                        }
                    }
                }
                syn::Item::Impl(i) => self.collect_impl(m, file, i),
                syn::Item::Trait(t) => {
                    define(self, &t.ident, "trait", Vis::of(&t.vis));
                    for ti in &t.items {
                        if let syn::TraitItem::Fn(f) = ti {
                            self.trait_fns.insert(f.sig.ident.to_string());
                            self.files[file].members.insert(f.sig.ident.to_string());
                        }
                    }
                }
                syn::Item::Macro(mac) if mac.mac.path.is_ident("macro_rules") => {
                    if let Some(ident) = &mac.ident {
                        let exported = mac.attrs.iter().any(|a| a.path().is_ident("macro_export"));
                        define(self, ident, "macro", if exported { Vis::Pub } else { Vis::Private });
                    }
                }
                syn::Item::Macro(_) => self.modules[m].macro_items = true,
                syn::Item::Fn(f) => {
                    self.files[file].members.insert(f.sig.ident.to_string());
                    define(self, &f.sig.ident, "fn", Vis::of(&f.vis));
                }
                syn::Item::Struct(i) => {
                    define(self, &i.ident, "struct", Vis::of(&i.vis));
                    self.collect_fields(m, file, i);
                }
                syn::Item::Enum(i) => define(self, &i.ident, "enum", Vis::of(&i.vis)),
                syn::Item::Union(i) => define(self, &i.ident, "union", Vis::of(&i.vis)),
                syn::Item::Type(i) => define(self, &i.ident, "type", Vis::of(&i.vis)),
                syn::Item::Const(i) => define(self, &i.ident, "const", Vis::of(&i.vis)),
                syn::Item::Static(i) => define(self, &i.ident, "static", Vis::of(&i.vis)),
                syn::Item::TraitAlias(i) => define(self, &i.ident, "trait", Vis::of(&i.vis)),
                _ => {}
            }
        }
        Ok(())
    }

    fn collect_mod(
        &mut self,
        m: ModId,
        file: FileId,
        md: &syn::ItemMod,
        children_dir: &Path,
        file_dir: &Path,
    ) -> Result<(), String> {
        let name = md.ident.to_string();
        let mut path = self.modules[m].path.clone();
        path.push(name.clone());
        let (vis, hidden) = (Vis::of(&md.vis), is_doc_hidden(&md.attrs));
        let child = if let Some((_, items)) = &md.content {
            let child = self.new_module(path, Some(m), file, vis, hidden);
            self.collect(child, file, items, &children_dir.join(&name), file_dir)?;
            child
        } else {
            let place = if let Some(p) = path_attr(&md.attrs) {
                let file = file_dir.join(p);
                let children_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
                Place { file, children_dir }
            } else {
                let flat = children_dir.join(format!("{name}.rs"));
                let nested = children_dir.join(&name).join("mod.rs");
                let file = if flat.is_file() { flat } else { nested };
                Place { file, children_dir: children_dir.join(&name) }
            };
            self.add_file(place, path, Some(m), vis, hidden)?
        };
        self.modules[m].children.insert(name, child);
        Ok(())
    }

    fn collect_fields(&mut self, m: ModId, file: FileId, s: &syn::ItemStruct) {
        let mut fields = HashMap::new();
        for f in s.fields.iter().filter(|f| !is_cfg_test(&f.attrs)) {
            if let Some(ident) = &f.ident {
                self.files[file].members.insert(ident.to_string());
                let member =
                    Member { vis: Vis::of(&f.vis), hidden: is_doc_hidden(&f.attrs), line: line_of(ident.span()), file };
                fields.insert(ident.to_string(), member);
            }
        }
        self.fields.insert((m, s.ident.to_string()), fields);
    }

    fn collect_impl(&mut self, m: ModId, file: FileId, i: &syn::ItemImpl) {
        let mut methods = Vec::new();
        for ii in &i.items {
            let (ident, vis, attrs) = match ii {
                syn::ImplItem::Fn(f) => {
                    self.files[file].members.insert(f.sig.ident.to_string());
                    (&f.sig.ident, &f.vis, &f.attrs)
                }
                syn::ImplItem::Const(c) => (&c.ident, &c.vis, &c.attrs),
                _ => continue,
            };
            if i.trait_.is_none() && !is_cfg_test(attrs) {
                let (vis, hidden) = (Vis::of(vis), is_doc_hidden(attrs));
                methods.push((ident.to_string(), Member { vis, hidden, line: line_of(ident.span()), file }));
            }
        }
        if let (None, syn::Type::Path(tp)) = (&i.trait_, &*i.self_ty) {
            if tp.qself.is_none() {
                let self_segs = path_segs(&tp.path);
                self.impls.push(RawImpl { module: m, self_segs, methods });
            }
        }
    }
}
