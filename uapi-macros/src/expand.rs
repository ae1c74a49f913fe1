//! The model -> tokens.
//!
//! `#[handler] async fn get_user(user_id: i64) -> R { .. }` becomes:
//!
//! - the same function, still named `get_user` and still callable
//!   (`get_user(7).await` gives an `R`), whose return type is
//!   `uapi::addon::Handled<__uapi_get_user, impl Future<Output = R>>`: the future, tagged
//!   with a marker type;
//! - the marker type `__uapi_get_user`, which implements `uapi::addon::Injectable`: it
//!   resolves each parameter through the plan the app computed when it was built,
//!   then calls the function.
//!
//! The app finds the marker through the function's return type, so
//! `app.get("/users/{user_id}", get_user)` takes the function itself, and no new
//! name enters the value namespace (a parameter may share a provider's name).
//! Generated code uses absolute `::uapi::` paths only.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::parse::{span_of, Handler, Rename};

pub(crate) fn expand(h: &Handler) -> TokenStream {
    let item = &h.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let name_str = name.to_string();
    let marker = format_ident!("__uapi_{}", name_str.strip_prefix("r#").unwrap_or(&name_str));
    let route_name = &h.route_name;
    let output = &h.output;
    let is_async = item.sig.asyncness.is_some();
    let attrs = &item.attrs;
    let block = &item.block;
    // The body's statements, spliced into the generated block rather than
    // nested as a block of their own: a one-line body `{ expr }` in another
    // block's tail position would trip `unused_braces` in the user's code.
    let stmts = &block.stmts;

    let idents: Vec<_> = h.params.iter().map(|p| &p.ident).collect();
    let pats: Vec<_> = h.params.iter().map(|p| &p.pat).collect();
    let tys: Vec<_> = h.params.iter().map(|p| &p.ty).collect();
    let args: Vec<_> = (0..h.params.len()).map(|i| format_ident!("__uapi_arg{}", i)).collect();

    let function = if is_async {
        quote! {
            #[cfg(not(doc))]
            #(#attrs)*
            #[allow(clippy::redundant_locals)]
            #vis fn #name(#(#idents: #tys),*)
                -> ::uapi::addon::Handled<#marker, impl ::core::future::Future<Output = #output>>
            {
                ::uapi::addon::Handled::new(async move {
                    #(let #pats = #idents;)*
                    #(#stmts)*
                })
            }
        }
    } else {
        quote! {
            #[cfg(not(doc))]
            #(#attrs)*
            #[allow(clippy::redundant_locals, clippy::redundant_closure_call)]
            #vis fn #name(#(#idents: #tys),*)
                -> ::uapi::addon::Handled<#marker, ::core::future::Ready<#output>>
            {
                #(let #pats = #idents;)*
                ::uapi::addon::Handled::new(::core::future::ready((move || -> #output #block)()))
            }
        }
    };
    // What rustdoc shows: the function as the user wrote it (without the
    // `#[header]`/`#[cookie]` attributes), not the glue type it returns.
    // Documentation only: rustdoc does not check bodies, and every build
    // compiles the function above.
    let asyncness = &item.sig.asyncness;
    let documented = quote! {
        #[cfg(doc)]
        #(#attrs)*
        #vis #asyncness fn #name(#(#pats: #tys),*) -> #output #block
    };

    let param_infos = h.params.iter().map(|p| {
        let ty = &p.ty;
        let pname = p.ident.to_string();
        let pname = pname.strip_prefix("r#").unwrap_or(&pname).to_owned();
        let rename = match &p.rename {
            None => quote!(::uapi::addon::Rename::None),
            Some(Rename::Header(l)) => quote!(::uapi::addon::Rename::Header(#l)),
            Some(Rename::Cookie(l)) => quote!(::uapi::addon::Rename::Cookie(#l)),
        };
        quote_spanned! {span_of(ty)=>
            ::uapi::addon::ParamInfo::new::<#ty>(
                #pname,
                {
                    #[allow(unused_imports)]
                    use ::uapi::__private::probe::{ViaExtractor as _, ViaOptional as _, ViaRepeated as _, ViaScalar as _, ViaProvider as _};
                    (&&&&::uapi::__private::probe::Probe::<#ty>::new()).uapi_kind()
                },
            )
            .with_rename(#rename)
            .with_describe({
                #[allow(unused_imports)]
                use ::uapi::__private::doc_probe::{ViaDescribe as _, ViaOpaqueBody as _, ViaSchema as _, ViaNoDoc as _};
                (&&&::uapi::__private::doc_probe::DocProbe::<#ty>::new()).uapi_describe()
            })
        }
    });
    // The answers: each arm of a written-out `Result<A, B>` (nested too) on
    // its own, so a type that does not describe itself costs only its arm.
    let leaves = crate::parse::result_leaves(output);
    let describe_leaves = leaves.iter().map(|leaf| {
        quote_spanned! {span_of(leaf)=>
            {
                #[allow(unused_imports)]
                use ::uapi::__private::doc_probe::{ViaResponses as _, ViaStatusOnly as _, ViaNoResponses as _};
                (&&::uapi::__private::doc_probe::DocProbe::<#leaf>::new()).uapi_responses(generator, out);
            }
        }
    });
    // Used as a provider, only the `Err` arm answers instead of the handler.
    let refusal_leaves = h.result_parts.as_ref().map(|(_, err)| crate::parse::result_leaves(err)).unwrap_or_default();
    let describe_refusals = refusal_leaves.iter().map(|leaf| {
        quote_spanned! {span_of(leaf)=>
            {
                #[allow(unused_imports)]
                use ::uapi::__private::doc_probe::{ViaResponses as _, ViaStatusOnly as _, ViaNoResponses as _};
                (&&::uapi::__private::doc_probe::DocProbe::<#leaf>::new()).uapi_responses(generator, out);
            }
        }
    });
    let doc = match &h.doc {
        Some(d) => quote!(::core::option::Option::Some(#d)),
        None => quote!(::core::option::Option::None),
    };

    let resolves = h.params.iter().zip(&args).enumerate().map(|(i, (p, arg))| {
        let ty = &p.ty;
        quote_spanned! {span_of(ty)=>
            let #arg: #ty = {
                ::uapi::__private::assert_param::<#ty>();
                #[allow(unused_imports)]
                use ::uapi::__private::probe::{ViaExtractor as _, ViaOptional as _, ViaRepeated as _, ViaScalar as _, ViaProvider as _};
                let extract = (&&&&::uapi::__private::probe::Probe::<#ty>::new()).uapi_extract();
                match ctx.resolve_now::<#ty>(&plan[#i], extract) {
                    ::core::option::Option::Some(value) => value?,
                    ::core::option::Option::None => ctx.resolve::<#ty>(&plan[#i], extract).await?,
                }
            };
        }
    });

    let (provided, provide) = match &h.result_parts {
        Some((ok, _err)) => {
            (quote!(#ok), quote!(::core::result::Result::map_err(out, ::uapi::IntoResponse::into_response)))
        }
        None => (quote!(#output), quote!(::core::result::Result::Ok(out))),
    };

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #marker;

        #function
        #documented

        const _: () = {
            impl ::uapi::addon::Injectable for #marker {
                type Output = #output;
                type Provided = #provided;

                fn info(&self) -> ::uapi::addon::HandlerInfo {
                    ::uapi::addon::HandlerInfo::new(
                        #route_name,
                        ::std::vec![#(#param_infos),*],
                        ::core::any::type_name::<#output>(),
                    )
                    .with_doc(#doc)
                    .with_responses({
                        #[allow(unused_variables, clippy::ptr_arg)]
                        fn describe(
                            generator: &mut ::uapi::addon::SchemaGenerator,
                            out: &mut ::std::vec::Vec<::uapi::addon::ResponseDoc>,
                        ) {
                            #(#describe_leaves)*
                        }
                        describe
                    })
                    .with_provider_refusals({
                        #[allow(unused_variables, clippy::ptr_arg)]
                        fn describe(
                            generator: &mut ::uapi::addon::SchemaGenerator,
                            out: &mut ::std::vec::Vec<::uapi::addon::ResponseDoc>,
                        ) {
                            #(#describe_refusals)*
                        }
                        describe
                    })
                }

                #[allow(unused_variables, clippy::needless_question_mark)]
                fn call<'a>(
                    &'a self,
                    ctx: &'a mut ::uapi::addon::RequestCtx,
                    plan: &'a [::uapi::addon::ParamPlan],
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<Self::Output, ::uapi::Response>,
                > + ::core::marker::Send + 'a {
                    async move {
                        #(#resolves)*
                        ::core::result::Result::Ok(#name(#(#args),*).await)
                    }
                }

                fn provide(out: Self::Output) -> ::core::result::Result<Self::Provided, ::uapi::Response> {
                    #provide
                }
            }
        };
    }
}
