//! Every reference a file makes: `use` leaves, and paths anywhere in its code (types, expressions,
//! patterns, bounds, and macro arguments where they parse as expressions), each resolved from the
//! module it is written in. Method calls are kept by name: without types their receiver is unknown,
//! but the seam check can still catch `__` methods and, by name, crate-private ones; field accesses
//! likewise.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};

use crate::model::{Crate, FileId, Import, ModId, Vis};
use crate::resolve::{BlockScope, Resolved, Target};
use crate::syntax::{flatten_use, is_cfg_test, item_attrs, line_of, path_segs};

/// One path in a file and what it resolved to.
pub struct Ref {
    /// The module the path is written in (an inline module's, inside its file).
    pub module: ModId,
    pub line: usize,
    pub segs: Vec<String>,
    pub leading_colon: bool,
    pub resolved: Resolved,
}

impl Ref {
    /// The path as written.
    pub fn written(&self) -> String {
        let path = self.segs.join("::");
        if self.leading_colon {
            format!("::{path}")
        } else {
            path
        }
    }

    pub fn has_dunder(&self) -> bool {
        self.segs.iter().any(|s| s.starts_with("__"))
    }
}

/// `.name(..)` (a method call) or `.name` (a field).
pub struct MemberUse {
    pub line: usize,
    pub name: String,
    pub call: bool,
}

#[derive(Default)]
pub struct FileRefs {
    /// References into this crate, plus any path with a `__` segment.
    pub refs: Vec<Ref>,
    pub members: Vec<MemberUse>,
}

/// Collects the references of one file.
pub fn collect(c: &Crate, file: FileId) -> FileRefs {
    let mut v =
        Collector { c, module: c.files[file].module, locals: Vec::new(), params: Vec::new(), out: FileRefs::default() };
    for item in &c.files[file].ast.items {
        v.visit_item(item);
    }
    v.out
}

struct Collector<'c> {
    c: &'c Crate,
    module: ModId,
    locals: Vec<BlockScope>,
    /// Parameters of the fn whose signature was just read, for its body's scope.
    params: Vec<String>,
    out: FileRefs,
}

impl Collector<'_> {
    /// Resolves and records one path. A lone segment in expression position that names a module
    /// is a local variable that happens to share the module's name (modules are not values).
    fn record(&mut self, segs: Vec<String>, leading_colon: bool, line: usize, value_position: bool) {
        if segs.is_empty() {
            return;
        }
        let resolved = self.c.resolve(self.module, &segs, leading_colon, &self.locals);
        if value_position && segs.len() == 1 && matches!(resolved.target, Target::Module(_)) {
            return;
        }
        let r = Ref { module: self.module, line, segs, leading_colon, resolved };
        if r.resolved.target != Target::External || r.has_dunder() {
            self.out.refs.push(r);
        }
    }

    fn record_path(&mut self, p: &syn::Path, value_position: bool) {
        let line = p.segments.first().map_or(0, |s| line_of(s.ident.span()));
        self.record(path_segs(p), p.leading_colon.is_some(), line, value_position);
    }

    /// `<T as Trait>::f`: the trait part is a reference, `T` is visited as a type; `<T>::f` names
    /// nothing of its own.
    fn qualified(&mut self, qself: &syn::QSelf, p: &syn::Path) {
        self.visit_type(&qself.ty);
        if qself.position > 0 {
            let line = p.segments.first().map_or(0, |s| line_of(s.ident.span()));
            let segs = path_segs(p)[..qself.position].to_vec();
            self.record(segs, p.leading_colon.is_some(), line, false);
        }
        for seg in &p.segments {
            self.visit_path_arguments(&seg.arguments);
        }
    }

    /// Macro arguments: as comma-separated expressions when they parse that way (`format!`,
    /// `vec!`, `assert_eq!`), otherwise a scan of the tokens for `crate::`, `super::` and `self::`
    /// paths and `.name` method calls (`tracing::info!(a = %x)`, `macro_rules!` bodies).
    fn macro_tokens(&mut self, tokens: &TokenStream) {
        match Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated.parse2(tokens.clone()) {
            Ok(exprs) => exprs.iter().for_each(|e| self.visit_expr(e)),
            Err(_) => self.scan_tokens(tokens.clone()),
        }
    }

    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let ident = |i: usize| match tts.get(i) {
            Some(TokenTree::Ident(id)) => Some(id.clone()),
            _ => None,
        };
        let punct = |i: usize, ch: char| matches!(tts.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ch);
        let mut i = 0;
        while i < tts.len() {
            if let TokenTree::Group(g) = &tts[i] {
                self.scan_tokens(g.stream());
            } else if punct(i, '.') {
                let args =
                    matches!(tts.get(i + 2), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis);
                let turbofish = punct(i + 2, ':') && punct(i + 3, ':');
                if let (Some(id), true) = (ident(i + 1), args || turbofish) {
                    self.out.members.push(MemberUse { line: line_of(id.span()), name: id.to_string(), call: true });
                }
            } else if let Some(first) = ident(i).filter(|id| id == "crate" || id == "super" || id == "self") {
                let mut segs = vec![first.to_string()];
                let mut j = i + 1;
                while punct(j, ':') && punct(j + 1, ':') {
                    match ident(j + 2) {
                        Some(next) => segs.push(next.to_string()),
                        None => break,
                    }
                    j += 3;
                }
                if segs.len() > 1 {
                    self.record(segs, false, line_of(first.span()), false);
                    i = j;
                    continue;
                }
            }
            i += 1;
        }
    }
}

impl BlockScope {
    /// The `use` items, local items and simple `let` bindings of a block.
    fn of(stmts: &[syn::Stmt]) -> BlockScope {
        let mut scope = BlockScope::default();
        for stmt in stmts {
            match stmt {
                syn::Stmt::Item(syn::Item::Use(u)) if !is_cfg_test(&u.attrs) => {
                    let mut leaves = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut leaves);
                    for l in leaves {
                        if let (Some(name), false) = (l.binding, l.glob) {
                            let imp = Import {
                                segs: l.segs,
                                leading_colon: u.leading_colon.is_some(),
                                vis: Vis::Private,
                                line: l.line,
                            };
                            scope.imports.insert(name, imp);
                        }
                    }
                }
                syn::Stmt::Item(item) => {
                    if let Some(name) = item_ident(item) {
                        scope.items.insert(name);
                    }
                }
                syn::Stmt::Local(local) => {
                    let mut pat = &local.pat;
                    if let syn::Pat::Type(t) = pat {
                        pat = &t.pat;
                    }
                    if let syn::Pat::Ident(pi) = pat {
                        scope.bindings.insert(pi.ident.to_string());
                    }
                }
                _ => {}
            }
        }
        scope
    }
}

fn item_ident(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(i)) {
            visit::visit_item(self, i);
        }
    }

    fn visit_signature(&mut self, sig: &'ast syn::Signature) {
        visit::visit_signature(self, sig);
        // The parameters are in scope in the body, visited next: see `visit_block`.
        let params = sig.inputs.iter().filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => match &*t.pat {
                syn::Pat::Ident(pi) => Some(pi.ident.to_string()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        });
        self.params.clear();
        self.params.extend(params);
    }

    fn visit_impl_item(&mut self, i: &'ast syn::ImplItem) {
        let attrs: &[syn::Attribute] = match i {
            syn::ImplItem::Fn(f) => &f.attrs,
            syn::ImplItem::Const(c) => &c.attrs,
            syn::ImplItem::Type(t) => &t.attrs,
            _ => &[],
        };
        if !is_cfg_test(attrs) {
            visit::visit_impl_item(self, i);
        }
    }

    /// `mod x;` is not a reference; an inline module's body is read in its own namespace.
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let Some((_, items)) = &m.content else { return };
        let Some(&child) = self.c.modules[self.module].children.get(&m.ident.to_string()) else { return };
        let outer = std::mem::replace(&mut self.module, child);
        let locals = std::mem::take(&mut self.locals);
        items.iter().for_each(|it| self.visit_item(it));
        self.module = outer;
        self.locals = locals;
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        flatten_use(&u.tree, &mut Vec::new(), &mut leaves);
        for l in leaves {
            self.record(l.segs, u.leading_colon.is_some(), l.line, false);
        }
    }

    fn visit_block(&mut self, b: &'ast syn::Block) {
        let mut scope = BlockScope::of(&b.stmts);
        scope.bindings.extend(self.params.drain(..));
        self.locals.push(scope);
        visit::visit_block(self, b);
        self.locals.pop();
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.record_path(p, false);
        visit::visit_path(self, p);
    }

    fn visit_expr_path(&mut self, e: &'ast syn::ExprPath) {
        match &e.qself {
            Some(q) => self.qualified(q, &e.path),
            None => {
                self.record_path(&e.path, true);
                visit::visit_path(self, &e.path);
            }
        }
    }

    fn visit_type_path(&mut self, t: &'ast syn::TypePath) {
        match &t.qself {
            Some(q) => self.qualified(q, &t.path),
            None => self.visit_path(&t.path),
        }
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        self.out.members.push(MemberUse { line: line_of(m.method.span()), name: m.method.to_string(), call: true });
        visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_field(&mut self, f: &'ast syn::ExprField) {
        if let syn::Member::Named(ident) = &f.member {
            self.out.members.push(MemberUse { line: line_of(ident.span()), name: ident.to_string(), call: false });
        }
        visit::visit_expr_field(self, f);
    }

    /// The macro's own name is not followed (`macro_rules!` invocations are out of scope).
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.macro_tokens(&m.tokens);
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    /// `pub(in crate::a)` names an ancestor, which is not a dependency.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
}
