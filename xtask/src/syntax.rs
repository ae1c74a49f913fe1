//! Syntax helpers shared by the module loader and the reference collector: line numbers,
//! attributes (`#[cfg(test)]`, `#[doc(hidden)]`, `#[path]`) and `use` trees flattened to leaves.

/// One leaf of a `use` tree: `binding` is the name it brings in (`None` for `as _` and globs).
pub struct UseLeaf {
    pub binding: Option<String>,
    pub segs: Vec<String>,
    pub glob: bool,
    pub line: usize,
}

/// 1-based; real lines only with proc-macro2's `span-locations` feature (outside a proc macro).
pub fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

pub fn path_segs(p: &syn::Path) -> Vec<String> {
    p.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// `#[cfg(test)]` exactly: such items only exist in the crate's own test build.
pub fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
}

/// `#[doc(hidden)]`: not part of the documented API even when `pub`.
pub fn is_doc_hidden(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "hidden"))
}

pub fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

pub fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item as I;
    match item {
        I::Const(i) => &i.attrs,
        I::Enum(i) => &i.attrs,
        I::ExternCrate(i) => &i.attrs,
        I::Fn(i) => &i.attrs,
        I::ForeignMod(i) => &i.attrs,
        I::Impl(i) => &i.attrs,
        I::Macro(i) => &i.attrs,
        I::Mod(i) => &i.attrs,
        I::Static(i) => &i.attrs,
        I::Struct(i) => &i.attrs,
        I::Trait(i) => &i.attrs,
        I::TraitAlias(i) => &i.attrs,
        I::Type(i) => &i.attrs,
        I::Union(i) => &i.attrs,
        I::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Flattens `use a::{b, c::{self, D as E}, f::*}` into one leaf per binding.
pub fn flatten_use(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseLeaf>) {
    let leaf = |prefix: &[String], ident: &syn::Ident| {
        let mut segs = prefix.to_vec();
        if ident != "self" {
            segs.push(ident.to_string());
        }
        segs
    };
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let segs = leaf(prefix, &n.ident);
            out.push(UseLeaf { binding: segs.last().cloned(), segs, glob: false, line: line_of(n.ident.span()) });
        }
        syn::UseTree::Rename(r) => {
            let binding = (r.rename != "_").then(|| r.rename.to_string());
            out.push(UseLeaf { binding, segs: leaf(prefix, &r.ident), glob: false, line: line_of(r.ident.span()) });
        }
        syn::UseTree::Glob(g) => {
            out.push(UseLeaf { binding: None, segs: prefix.clone(), glob: true, line: line_of(g.star_token.span) })
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten_use(t, prefix, out)),
    }
}
