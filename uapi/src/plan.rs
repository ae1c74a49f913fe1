//! `App::build`: resolves every parameter of every route to a [`ParamPlan`].
//!
//! The order is uapi's (incant's): a provider for the parameter's name and type,
//! then for its name, then for its type, then the type's built-in source.
//! Providers' own parameters are resolved the same way, in the context of each
//! route that reaches them (a provider asking for `user_id: i64` reads the path
//! parameter on `/users/{user_id}` and the query elsewhere).

use std::sync::Arc;

use http::header::HeaderName;
use http::Method;

use crate::config::BodyLimits;
use crate::ctx::{ParamPlan, ProviderNode, Resolved, Source};
use crate::erased::ErasedHandler;
use crate::error::BuildError;
use crate::handler::{ExtractorKind, ParamInfo, ParamKind, Rename};
use crate::refusal::RefusalHook;
use crate::registry::{ProviderKey, Registry, RouteDef};
use crate::router::{template_params, Router};

/// A route, ready to serve: its handler and the plan of its parameters.
pub(crate) struct Route {
    pub(crate) handler: Arc<dyn ErasedHandler>,
    pub(crate) plan: Box<[ParamPlan]>,
    pub(crate) name: &'static str,
    /// What reshapes this route's refusals (its app's hook).
    pub(crate) on_rejection: Option<RefusalHook>,
    /// The parameters its plan resolves through providers, anywhere in it:
    /// what [`crate::addon::RequestCtx::route_resolves`] answers from.
    pub(crate) resolves: Option<Arc<[Resolved]>>,
}

/// A built app: what [`crate::AppService`] serves.
pub(crate) struct Compiled {
    pub(crate) router: Router,
    pub(crate) routes: Vec<Route>,
    pub(crate) body: BodyLimits,
    pub(crate) provider_slots: usize,
    /// The app's hook for refusals outside any route (404, 405).
    pub(crate) on_rejection: Option<RefusalHook>,
}

/// Checks every route of `app` and resolves every parameter.
pub(crate) fn build(app: &Registry, body: BodyLimits) -> Result<Compiled, BuildError> {
    let mut problems = app.problems.clone();

    // Route names are unique (a name may repeat only for one handler on several methods of one path).
    let mut names: Vec<(&str, &str)> = Vec::new();
    for r in &app.routes {
        match names.iter().find(|(n, _)| *n == r.name) {
            Some((_, path)) if *path != r.path => problems.push(format!(
                "route name `{}` is used for both `{path}` and `{}`; route names must be unique",
                r.name, r.path
            )),
            Some(_) => {}
            None => names.push((r.name, &r.path)),
        }
    }

    // Group routes by path, then by method.
    let mut paths: Vec<(String, Vec<(Method, usize)>)> = Vec::new();
    for (i, r) in app.routes.iter().enumerate() {
        let slot = match paths.iter_mut().find(|(p, _)| *p == r.path) {
            Some(s) => s,
            None => {
                paths.push((r.path.clone(), Vec::new()));
                let last = paths.len() - 1;
                &mut paths[last]
            }
        };
        if slot.1.iter().any(|(m, _)| *m == r.method) {
            problems.push(format!("{} {} is routed twice", r.method, r.path));
        } else {
            slot.1.push((r.method.clone(), i));
        }
    }
    let router = match Router::new(paths) {
        Ok(r) => Some(r),
        Err(p) => {
            problems.extend(p);
            None
        }
    };

    let mut routes = Vec::with_capacity(app.routes.len());
    for r in &app.routes {
        let path_names = template_params(&r.path);
        let mut resolver = Resolver { app, path_names: &path_names, problems: &mut problems, stack: Vec::new() };
        let label = format!("handler `{}` ({} {})", r.info.name, r.method, r.path);
        let plan = resolver.params(&label, &r.info.params);
        check_path_params_used(&mut problems, r, &path_names, &plan);
        let on_rejection = r.on_rejection.clone().or_else(|| app.on_rejection.clone());
        let mut resolved = Vec::new();
        collect_providers(app, &plan, &mut resolved);
        let resolves = (!resolved.is_empty()).then(|| resolved.into());
        routes.push(Route { handler: r.handler.clone(), plan: plan.into(), name: r.name, on_rejection, resolves });
    }

    match router {
        Some(router) if problems.is_empty() => {
            let on_rejection = app.on_rejection.clone();
            Ok(Compiled { router, routes, body, provider_slots: app.providers.len(), on_rejection })
        }
        _ => {
            for p in &problems {
                tracing::error!("{p}");
            }
            Err(BuildError { problems })
        }
    }
}

/// A path parameter that no parameter reads (the handler's, or a provider's it
/// reaches) is a mistake: the parameter meant for it reads the query instead,
/// and every request would be a 400. Says which query parameter it probably is.
fn check_path_params_used(problems: &mut Vec<String>, route: &RouteDef, path_names: &[String], plan: &[ParamPlan]) {
    let (mut used, mut query) = (Vec::new(), Vec::new());
    collect_sources(plan, &mut used, &mut query);
    for (i, name) in path_names.iter().enumerate() {
        if used.contains(&i) {
            continue;
        }
        let hint = closest(name, &query).map(|q| format!(" (did you mean `{q}`?)")).unwrap_or_default();
        problems.push(format!(
            "route `{} {}`: path parameter `{name}` is not used by `{}` or the providers it needs{hint}; \
             name a parameter `{name}` to read it",
            route.method, route.path, route.info.name
        ));
    }
}

/// Every parameter `plan` resolves through a provider (its name and the
/// provider's type), through providers too, each once.
fn collect_providers(app: &Registry, plan: &[ParamPlan], out: &mut Vec<Resolved>) {
    for p in plan {
        if let Source::Provider(node) = &p.source {
            if let Some(def) = app.providers.get(node.slot) {
                let resolved = Resolved { name: p.name, provided: def.provided };
                if !out.contains(&resolved) {
                    out.push(resolved);
                }
            }
            collect_providers(app, &node.plan, out);
        }
    }
}

/// The path parameters `plan` reads (by index) and the names of the
/// parameters it reads from the query, through providers too.
fn collect_sources(plan: &[ParamPlan], used: &mut Vec<usize>, query: &mut Vec<&'static str>) {
    for p in plan {
        match &p.source {
            Source::Path(i) => used.push(*i),
            Source::Query => query.push(p.name),
            Source::Provider(node) => collect_sources(&node.plan, used, query),
            _ => {}
        }
    }
}

/// The query parameter most like `name`: one containing it (or contained in
/// it), else the most similar (Jaro-Winkler, as clap's suggestions).
fn closest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let contains = |c: &&&str| {
        let c = c.to_ascii_lowercase();
        c.contains(&lower) || lower.contains(&c)
    };
    if let Some(c) = candidates.iter().find(contains) {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

struct Resolver<'a> {
    app: &'a Registry,
    path_names: &'a [String],
    problems: &'a mut Vec<String>,
    /// Providers being resolved, to report cycles.
    stack: Vec<usize>,
}

impl Resolver<'_> {
    fn params(&mut self, label: &str, params: &[ParamInfo]) -> Vec<ParamPlan> {
        params.iter().map(|p| self.param(label, p)).collect()
    }

    fn param(&mut self, label: &str, p: &ParamInfo) -> ParamPlan {
        let source = match self.find_provider(label, p) {
            Some(index) => {
                if !matches!(p.rename, Rename::None) {
                    self.problems.push(format!(
                        "{label}: parameter `{}: {}` has a #[header]/#[cookie] attribute, but its \
                         value comes from provider `{}`, so the attribute would be ignored",
                        p.name, p.type_name, self.app.providers[index].info.name
                    ));
                }
                self.provider(label, p, index)
            }
            None => self.builtin(label, p),
        };
        ParamPlan { name: p.name, source }
    }

    /// The provider for `p`, by name and type, then name, then type; the most
    /// recently registered wins within a level.
    fn find_provider(&mut self, label: &str, p: &ParamInfo) -> Option<usize> {
        let providers = &self.app.providers;
        let by = |want: &dyn Fn(&ProviderKey, std::any::TypeId) -> bool| {
            providers.iter().enumerate().rev().find(|(_, d)| want(&d.key, d.provided)).map(|(i, _)| i)
        };
        if let Some(i) = by(&|k, t| matches!(k, ProviderKey::NameAndType(n) if n == p.name) && t == p.type_id) {
            return Some(i);
        }
        if let Some(i) = by(&|k, _| matches!(k, ProviderKey::Name(n) if n == p.name)) {
            let d = &providers[i];
            if d.provided != p.type_id {
                self.problems.push(format!(
                    "{label}: parameter `{}: {}` is named like the provider registered for `{}`, which gives `{}`",
                    p.name, p.type_name, p.name, d.provided_name
                ));
            }
            return Some(i);
        }
        by(&|k, t| *k == ProviderKey::Type && t == p.type_id)
    }

    fn provider(&mut self, label: &str, p: &ParamInfo, index: usize) -> Source {
        let def = &self.app.providers[index];
        if self.stack.contains(&index) {
            self.problems.push(format!(
                "{label}: parameter `{}: {}` needs provider `{}`, which (indirectly) needs itself",
                p.name, p.type_name, def.info.name
            ));
            return Source::Request;
        }
        self.stack.push(index);
        let inner_label = format!("provider `{}` (used by {label})", def.info.name);
        let plan = self.params(&inner_label, &def.info.params);
        self.stack.pop();
        Source::Provider(Arc::new(ProviderNode { slot: index, provider: def.erased.clone(), plan: plan.into() }))
    }

    fn builtin(&mut self, label: &str, p: &ParamInfo) -> Source {
        let mut rename_ok = matches!(p.rename, Rename::None);
        let source = match p.kind {
            ParamKind::Scalar | ParamKind::OptionalScalar => match self.path_names.iter().position(|n| n == p.name) {
                Some(i) => Source::Path(i),
                None => Source::Query,
            },
            ParamKind::RepeatedScalar => Source::Query,
            ParamKind::Extractor(ExtractorKind::Header) => {
                let name = match p.rename {
                    Rename::Header(h) => {
                        rename_ok = true;
                        h.to_ascii_lowercase()
                    }
                    _ => p.name.replace('_', "-"),
                };
                match HeaderName::from_bytes(name.as_bytes()) {
                    Ok(h) => Source::Header(h),
                    Err(_) => {
                        self.problems
                            .push(format!("{label}: parameter `{}`: `{name}` is not a valid header name", p.name));
                        Source::Request
                    }
                }
            }
            ParamKind::Extractor(ExtractorKind::Cookie) => {
                let name = match p.rename {
                    Rename::Cookie(c) => {
                        rename_ok = true;
                        c
                    }
                    _ => p.name,
                };
                Source::Cookie(name.into())
            }
            ParamKind::Extractor(ExtractorKind::Body) => Source::Body,
            ParamKind::Extractor(ExtractorKind::Request) => Source::Request,
            ParamKind::ProviderOnly => {
                self.problems.push(format!(
                    "{label}: parameter `{}: {}` cannot be resolved: no provider is registered for \
                     its name or type, and the type has no built-in source (register one with \
                     `app.register_by_name(\"{}\", ...)` or `app.register_by_type(...)`)",
                    p.name, p.type_name, p.name
                ));
                Source::Request
            }
        };
        if !rename_ok {
            self.problems.push(format!(
                "{label}: parameter `{}: {}` has a #[header]/#[cookie] attribute that does not fit its type",
                p.name, p.type_name
            ));
        }
        source
    }
}
