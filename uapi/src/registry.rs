//! What an app is made of before it is built: its routes, its providers, and
//! the problems found while adding them. [`crate::App`] fills a [`Registry`];
//! [`crate::plan`] resolves it.

use std::any::TypeId;
use std::borrow::Cow;
use std::sync::Arc;

use http::Method;

use crate::ctx::ErasedProvider;
use crate::erased::{ErasedHandler, HandlerOf, ProviderOf};
use crate::handler::{HandlerInfo, Injectable};
use crate::refusal::RefusalHook;
use crate::response::IntoResponse;

pub(crate) struct RouteDef {
    pub(crate) path: String,
    pub(crate) method: Method,
    pub(crate) name: &'static str,
    pub(crate) info: HandlerInfo,
    pub(crate) handler: Arc<dyn ErasedHandler>,
    /// The hook of the app the route was mounted from, if it had its own.
    pub(crate) on_rejection: Option<RefusalHook>,
    /// Its OpenAPI tags: those of its app, and of the apps that mounted it.
    pub(crate) tags: Vec<String>,
    /// Whether the OpenAPI document lists it (not the document's own route,
    /// nor the docs pages).
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) documented: bool,
}

/// Runs when the app is built, after every parameter resolved: what the
/// OpenAPI document is made by. A problem fails the build.
pub(crate) type BuildHook =
    std::sync::Arc<dyn Fn(&Registry, crate::config::BodyLimits) -> Result<(), String> + Send + Sync>;

/// How a provider is matched to parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProviderKey {
    NameAndType(Cow<'static, str>),
    Name(Cow<'static, str>),
    Type,
}

pub(crate) struct ProviderDef {
    pub(crate) key: ProviderKey,
    pub(crate) provided: TypeId,
    pub(crate) provided_name: &'static str,
    pub(crate) info: HandlerInfo,
    pub(crate) erased: Arc<dyn ErasedProvider>,
}

/// Routes and providers, in the order they were added.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) routes: Vec<RouteDef>,
    pub(crate) providers: Vec<ProviderDef>,
    /// Problems found while adding (reported, with the rest, by `build`).
    pub(crate) problems: Vec<String>,
    /// The app's hook for refusals (its routes', and 404/405).
    pub(crate) on_rejection: Option<RefusalHook>,
    /// The OpenAPI tags of every route of this app.
    pub(crate) tags: Vec<String>,
    /// What runs at each build (the OpenAPI document's making).
    pub(crate) build_hooks: Vec<BuildHook>,
}

impl Registry {
    /// Routes `path` for each of `methods` to `handler`, named `name` (else
    /// after the handler).
    pub(crate) fn add_route<I>(
        &mut self,
        name: Option<&'static str>,
        path: &str,
        methods: impl IntoIterator<Item = Method>,
        handler: I,
    ) where
        I: Injectable,
        I::Output: IntoResponse,
    {
        let info = handler.info();
        let name = name.unwrap_or(info.name);
        let handler: Arc<dyn ErasedHandler> = Arc::new(HandlerOf(handler));
        if !path.starts_with('/') {
            self.problems.push(format!("route `{name}`: path `{path}` must start with `/`"));
        }
        for method in methods {
            self.routes.push(RouteDef {
                path: path.to_owned(),
                method,
                name,
                info: info.clone(),
                handler: handler.clone(),
                on_rejection: None,
                tags: self.tags.clone(),
                documented: true,
            });
        }
    }

    /// Tags every route of this app, those routed already and later.
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) fn tag(&mut self, tag: &str) {
        for route in &mut self.routes {
            if !route.tags.iter().any(|t| t == tag) {
                route.tags.push(tag.to_owned());
            }
        }
        self.tags.push(tag.to_owned());
    }

    /// Registers `provider` under `key`.
    pub(crate) fn add_provider<I>(&mut self, key: ProviderKey, provider: I)
    where
        I: Injectable,
        I::Provided: Clone,
    {
        self.providers.push(ProviderDef {
            key,
            provided: TypeId::of::<I::Provided>(),
            provided_name: std::any::type_name::<I::Provided>(),
            info: provider.info(),
            erased: Arc::new(ProviderOf(provider)),
        });
    }

    /// Adds every route of `other` under `prefix`, with its providers; ours
    /// take precedence over `other`'s.
    pub(crate) fn mount(&mut self, prefix: &str, other: Registry) {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && !prefix.starts_with('/') {
            self.problems.push(format!("mount prefix `{prefix}` must start with `/`"));
        }
        for mut route in other.routes {
            // A mounted app's routes keep its hook; ours applies to the rest.
            route.on_rejection = route.on_rejection.or_else(|| other.on_rejection.clone());
            for tag in &self.tags {
                if !route.tags.contains(tag) {
                    route.tags.push(tag.clone());
                }
            }
            route.path = if route.path == "/" && !prefix.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}{}", route.path)
            };
            self.routes.push(route);
        }
        // Lookups take the most recently registered match, so `other`'s providers
        // go first: ours win.
        let mut providers = other.providers;
        providers.append(&mut self.providers);
        self.providers = providers;
        self.problems.extend(other.problems);
        self.build_hooks.extend(other.build_hooks);
    }
}
