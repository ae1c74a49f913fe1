//! The `#[handler]` attribute for [uapi](https://docs.rs/uapi).
//!
//! This crate holds entry points only: `parse.rs` turns the function into a small
//! model (collecting every mistake with its span), `expand.rs` turns the model into
//! tokens. Use it through `uapi::handler`; its documentation lives there.

use proc_macro::TokenStream;

mod expand;
mod parse;

/// Marks a function as injectable: a route handler or a provider. See `uapi::handler`.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    let out = match parse::parse(attr.into(), item2.clone()) {
        Ok(model) => expand::expand(&model),
        Err(err) => {
            // Keep the user's function so IDEs and other errors stay useful, minus
            // the `#[header]`/`#[cookie]` parameter attributes only this macro
            // understands (else each would add a "cannot find attribute" error).
            let mut tokens = err.to_compile_error();
            match syn::parse2::<syn::ItemFn>(item2.clone()) {
                Ok(mut func) => {
                    for input in &mut func.sig.inputs {
                        if let syn::FnArg::Typed(pt) = input {
                            pt.attrs.retain(|a| !a.path().is_ident("header") && !a.path().is_ident("cookie"));
                        }
                    }
                    tokens.extend(quote::ToTokens::into_token_stream(func));
                }
                Err(_) => tokens.extend(item2),
            }
            tokens
        }
    };
    if std::env::var_os("UAPI_MACRO_DEBUG").is_some() {
        eprintln!("{out}");
    }
    out.into()
}
