//! syn -> a small model of the handler, collecting every mistake with its span.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type};

/// What `#[handler]` needs to know about one function.
pub(crate) struct Handler {
    pub(crate) item: ItemFn,
    /// The route name: `#[handler(name = "...")]` or the function's name.
    pub(crate) route_name: String,
    pub(crate) params: Vec<Param>,
    /// The declared return type (`()` when there is none).
    pub(crate) output: Type,
    /// `Some((ok, err))` when the return type is written `Result<ok, err>`:
    /// used as a provider, `ok` is the value and `err` the refusal.
    pub(crate) result_parts: Option<(Type, Type)>,
    /// The doc comment, its lines joined (an OpenAPI operation's description).
    pub(crate) doc: Option<String>,
}

pub(crate) struct Param {
    pub(crate) ident: syn::Ident,
    /// The pattern as written (e.g. `mut count`), rebound inside the function.
    pub(crate) pat: Pat,
    pub(crate) ty: Type,
    pub(crate) rename: Option<Rename>,
}

pub(crate) enum Rename {
    Header(LitStr),
    Cookie(LitStr),
}

/// Collects errors so the user sees every mistake at once (serde's `Ctxt`).
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }
}

pub(crate) fn parse(attr: TokenStream, item: TokenStream) -> syn::Result<Handler> {
    let mut item: ItemFn = syn::parse2(item)?;
    let mut errors = Errors::default();
    let mut route_name = item.sig.ident.to_string();

    if !attr.is_empty() {
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                route_name = lit.value();
                Ok(())
            } else {
                Err(meta.error("unknown #[handler] option; expected `name = \"...\"`"))
            }
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
            errors.push(e);
        }
    }

    let sig = &item.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "#[handler] functions cannot be generic: each parameter is injected by its concrete type",
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new_spanned(c, "#[handler] functions cannot be `const`"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, "#[handler] functions cannot be variadic"));
    }

    let mut params = Vec::new();
    for input in item.sig.inputs.iter_mut() {
        match input {
            FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                "#[handler] functions cannot take `self`: write a free function, and inject state with a provider",
            )),
            FnArg::Typed(pt) => {
                let rename = take_rename(&mut pt.attrs, &mut errors);
                let pat = (*pt.pat).clone();
                let ident = match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.clone(),
                    other => {
                        errors.push(syn::Error::new_spanned(
                            other,
                            "#[handler] parameters must be plain names: the name is what selects the value to inject",
                        ));
                        continue;
                    }
                };
                check_type(&pt.ty, &mut errors);
                params.push(Param { ident, pat, ty: (*pt.ty).clone(), rename });
            }
        }
    }

    let output: Type = match &item.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    check_return(&output, &mut errors);
    let result_parts = result_parts(&output);

    match errors.0 {
        Some(e) => Err(e),
        None => {
            let doc = doc_comment(&item.attrs);
            Ok(Handler { item, route_name, params, output, result_parts, doc })
        }
    }
}

/// Removes `#[header("..")]` / `#[cookie("..")]` from a parameter and records them.
fn take_rename(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> Option<Rename> {
    let mut rename = None;
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        let kind = if attr.path().is_ident("header") {
            Some(true)
        } else if attr.path().is_ident("cookie") {
            Some(false)
        } else {
            None
        };
        let Some(is_header) = kind else {
            kept.push(attr);
            continue;
        };
        let lit = match attr.parse_args::<LitStr>() {
            Ok(lit) => lit,
            Err(_) => {
                let what = if is_header { "header" } else { "cookie" };
                errors.push(syn::Error::new_spanned(
                    &attr,
                    format!("expected #[{what}(\"name\")] with the {what}'s name as a string"),
                ));
                continue;
            }
        };
        if lit.value().is_empty() {
            errors.push(syn::Error::new_spanned(&lit, "the name cannot be empty"));
            continue;
        }
        if rename.is_some() {
            errors.push(syn::Error::new_spanned(
                &attr,
                "a parameter can take one #[header(..)] or #[cookie(..)], not several",
            ));
            continue;
        }
        rename = Some(if is_header { Rename::Header(lit) } else { Rename::Cookie(lit) });
    }
    *attrs = kept;
    rename
}

/// Rejects types that can never be injected: borrowed, `impl Trait`, bare trait objects.
fn check_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Reference(r) => errors.push(syn::Error::new_spanned(
            r,
            "#[handler] parameters must be owned values: a borrowed parameter can never be injected (use the owned type, e.g. `String` for `&str`)",
        )),
        Type::ImplTrait(t) => errors.push(syn::Error::new_spanned(
            t,
            "#[handler] parameters cannot be `impl Trait`: name a concrete type",
        )),
        Type::TraitObject(t) => errors.push(syn::Error::new_spanned(
            t,
            "#[handler] parameters cannot be trait objects: name a concrete type",
        )),
        Type::Infer(t) => errors.push(syn::Error::new_spanned(t, "#[handler] parameters need a type")),
        Type::Paren(p) => check_type(&p.elem, errors),
        Type::Group(g) => check_type(&g.elem, errors),
        _ => {}
    }
}

fn check_return(ty: &Type, errors: &mut Errors) {
    if let Type::ImplTrait(t) = ty {
        errors.push(syn::Error::new_spanned(
            t,
            "#[handler] functions must name their return type; `impl Trait` is not supported",
        ));
    }
    if let Type::Reference(r) = ty {
        if !matches!(&r.lifetime, Some(l) if l.ident == "static") {
            errors.push(syn::Error::new_spanned(r, "#[handler] functions cannot return borrowed values"));
        }
    }
}

/// `Result<A, B>` written out (any path ending in `Result` with two arguments).
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    Some((ok, err))
}

/// The arms of a written-out `Result<A, B>`, nested ones split too; any
/// other type is its own one arm.
pub(crate) fn result_leaves(ty: &Type) -> Vec<Type> {
    match result_parts(ty) {
        Some((ok, err)) => {
            let mut leaves = result_leaves(&ok);
            leaves.extend(result_leaves(&err));
            leaves
        }
        None => vec![ty.clone()],
    }
}

/// The `///` lines (`#[doc = ".."]`), each without the one space after
/// `///`, joined by newlines; `None` when there are none.
fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).trim_end().to_owned())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

pub(crate) fn span_of(ty: &Type) -> Span {
    ty.span()
}
