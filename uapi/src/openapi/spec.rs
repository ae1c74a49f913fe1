//! Builds the document from a registry: each route's plan (as `App::build`
//! resolves it) walked through the providers it reaches.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::Value;

use super::model::{
    Components, Info, MediaType, OpenApi, Operation, Parameter, ParameterIn, PathItem, RequestBody, ResponseObject,
    SecurityScheme, Tag,
};
use crate::config::BodyLimits;
use crate::ctx::{ParamPlan, Source};
use crate::describe::{ResponseDoc, SecurityDoc, TypeDoc};
use crate::error::BuildError;
use crate::handler::{ParamInfo, ParamKind};
use crate::registry::{Registry, RouteDef};

/// Makes a summary or a description from a route: `None` leaves it out.
pub type RouteTransform = Arc<dyn Fn(&RouteDoc<'_>) -> Option<String> + Send + Sync>;

/// A route as the transformers see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RouteDoc<'a> {
    /// The route name (the operation id).
    pub name: &'a str,
    /// Its method.
    pub method: &'a Method,
    /// Its path template.
    pub path: &'a str,
    /// The handler's doc comment.
    pub doc: Option<&'a str>,
}

/// What [`App::make_openapi_spec`](crate::App::make_openapi_spec) makes: as
/// uapi's `make_openapi_spec` arguments.
///
/// # Examples
///
/// ```
/// use uapi::openapi::OpenApiOptions;
/// let options = OpenApiOptions::new("Pets", "1.0")
///     .exclude("healthz")
///     .summary_transformer(|route| Some(route.name.replace('_', " ")));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct OpenApiOptions {
    title: String,
    version: String,
    description: Option<String>,
    exclude: Vec<String>,
    summary: Option<RouteTransform>,
    description_of: Option<RouteTransform>,
}

impl OpenApiOptions {
    /// A document titled `title`, of API version `version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        OpenApiOptions {
            title: title.into(),
            version: version.into(),
            description: None,
            exclude: Vec::new(),
            summary: None,
            description_of: None,
        }
    }

    /// The API's description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Leaves route `name` out (every method of it).
    pub fn exclude(mut self, name: impl Into<String>) -> Self {
        self.exclude.push(name.into());
        self
    }

    /// Makes each operation's summary (by default the route name in title
    /// case: `logout_everywhere` is "Logout Everywhere").
    pub fn summary_transformer(mut self, f: impl Fn(&RouteDoc<'_>) -> Option<String> + Send + Sync + 'static) -> Self {
        self.summary = Some(Arc::new(f));
        self
    }

    /// Makes each operation's description (by default the handler's doc comment).
    pub fn description_transformer(
        mut self,
        f: impl Fn(&RouteDoc<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.description_of = Some(Arc::new(f));
        self
    }
}

/// `logout_everywhere` → `Logout Everywhere`.
fn title_case(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/files/{*rest}` → `/files/{rest}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

/// What one operation reads and needs, gathered through its providers.
#[derive(Default)]
struct Gathered<'a> {
    parameters: Vec<Parameter>,
    /// The body parameter and how deep it was found (the handler's own first).
    body: Option<(usize, &'a ParamInfo)>,
    refusals: Vec<ResponseDoc>,
    security: Vec<SecurityDoc>,
    reads_input: bool,
    /// Types without a description, for the warning.
    undescribed: Vec<&'static str>,
}

struct Walker<'r, 'g> {
    registry: &'r Registry,
    generator: &'g mut SchemaGenerator,
}

impl<'r> Walker<'r, '_> {
    fn describe(&mut self, info: &ParamInfo, out: &mut Gathered<'_>) -> TypeDoc {
        match info.describe {
            Some(describe) => describe(self.generator),
            None => {
                out.undescribed.push(info.type_name);
                TypeDoc::new(schemars::json_schema!({}), &["*/*"])
            }
        }
    }

    fn walk(&mut self, infos: &'r [ParamInfo], plans: &[ParamPlan], depth: usize, out: &mut Gathered<'r>) {
        for (info, plan) in infos.iter().zip(plans) {
            let location = match &plan.source {
                Source::Provider(node) => {
                    let def = &self.registry.providers[node.slot];
                    out.refusals.extend(def.info.refusals.iter().cloned());
                    if let Some(describe) = def.info.provider_refusals {
                        describe(self.generator, &mut out.refusals);
                    }
                    out.security.extend(def.info.security.iter().cloned());
                    self.walk(&def.info.params, &node.plan, depth + 1, out);
                    continue;
                }
                Source::Request => continue,
                Source::Body => {
                    out.reads_input = true;
                    if out.body.as_ref().is_none_or(|(d, _)| *d > depth) {
                        out.body = Some((depth, info));
                    }
                    continue;
                }
                Source::Path(_) => (ParameterIn::Path, info.name.to_owned()),
                Source::Query => (ParameterIn::Query, info.name.to_owned()),
                Source::Header(h) => (ParameterIn::Header, h.as_str().to_owned()),
                Source::Cookie(c) => (ParameterIn::Cookie, c.to_string()),
            };
            out.reads_input = true;
            let (location, name) = location;
            if out.parameters.iter().any(|p| p.name == name && p.location == location) {
                continue;
            }
            let doc = self.describe(info, out);
            let repeated = info.kind == ParamKind::RepeatedScalar;
            let optional = info.kind == ParamKind::OptionalScalar || !doc.required || repeated;
            let schema = if optional { non_null(doc.schema) } else { doc.schema };
            out.parameters.push(Parameter {
                name,
                location,
                required: location == ParameterIn::Path || !optional,
                schema,
                style: repeated.then(|| "form".to_owned()),
                explode: repeated.then_some(true),
            });
        }
    }
}

/// An optional parameter's schema without its `null`: absent is how it is
/// left out, not `null`.
fn non_null(schema: Schema) -> Schema {
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        if let Some(Value::Array(types)) = object.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                object.insert("type".to_owned(), only);
            }
        } else if let Some(Value::Array(any_of)) = object.get("anyOf") {
            let rest: Vec<&Value> = any_of.iter().filter(|s| s.get("type").is_none_or(|t| t != "null")).collect();
            if rest.len() == 1 && any_of.len() == 2 {
                let only = rest[0].clone();
                object.remove("anyOf");
                if let Value::Object(inner) = only {
                    object.extend(inner);
                }
            }
        }
    }
    Schema::try_from(value).unwrap_or_else(|_| schemars::json_schema!({}))
}

/// Adds `doc` under its status, merging a second body of another media type
/// and a second description into one answer.
fn add_response(responses: &mut BTreeMap<String, ResponseObject>, doc: ResponseDoc) {
    let key = doc.status.map_or_else(|| "default".to_owned(), |s| s.to_string());
    let entry =
        responses.entry(key).or_insert_with(|| ResponseObject { description: String::new(), content: BTreeMap::new() });
    if entry.description.is_empty() {
        entry.description = doc.description.into_owned();
    } else if !entry.description.contains(&*doc.description) {
        entry.description = format!("{}; {}", entry.description, doc.description);
    }
    if let Some(media) = doc.media {
        let media_type = entry.content.entry(media.to_owned()).or_default();
        if media_type.schema.is_none() {
            media_type.schema = doc.schema;
        }
    }
}

/// Whether `route` is an operation of the document.
fn is_documented(route: &RouteDef, options: &OpenApiOptions) -> bool {
    route.documented
        && route.method != Method::HEAD
        && route.method != Method::OPTIONS
        && !options.exclude.iter().any(|e| e == route.name)
}

pub(crate) fn make(registry: &Registry, body: BodyLimits, options: &OpenApiOptions) -> Result<OpenApi, BuildError> {
    let compiled = crate::plan::build(registry, body)?;
    let mut generator: SchemaGenerator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    let mut schemes: BTreeMap<String, SecurityScheme> = BTreeMap::new();
    let mut tags: Vec<Tag> = Vec::new();
    for (route, built) in registry.routes.iter().zip(&compiled.routes) {
        if !is_documented(route, options) {
            continue;
        }
        let mut gathered = Gathered::default();
        let mut walker = Walker { registry, generator: &mut generator };
        walker.walk(&route.info.params, &built.plan, 0, &mut gathered);
        let body = gathered.body.map(|(_, info)| info).map(|info| walker.describe(info, &mut gathered));

        let mut responses = BTreeMap::new();
        let mut answers = Vec::new();
        match route.info.responses {
            Some(describe) => describe(&mut generator, &mut answers),
            None => answers.push(ResponseDoc { status: None, ..ResponseDoc::new(0, "any answer") }),
        }
        for answer in &answers {
            if answer.status.is_none() && answer.description.contains("does not describe itself") {
                tracing::warn!(route = route.name, "OpenAPI: {}", answer.description);
            }
        }
        answers.extend(gathered.refusals.iter().cloned());
        if gathered.reads_input {
            answers.push(ResponseDoc::new(400, "a parameter or the body could not be read"));
        }
        if let Some(doc) = &body {
            answers.push(ResponseDoc::new(413, "the body is over the size limit"));
            // Bytes and bodies of unknown type take any media type.
            if doc.media.iter().any(|m| !["*/*", "application/octet-stream"].contains(m)) {
                answers.push(ResponseDoc::new(415, "the body is not of a media type it reads"));
            }
        }
        let write = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(&route.method);
        for answer in answers {
            if write || !answer.writes_only {
                add_response(&mut responses, answer);
            }
        }
        for ty in &gathered.undescribed {
            tracing::warn!(
                route = route.name,
                "OpenAPI: `{ty}` has no schema and shows as {{}}: derive schemars::JsonSchema for it, or implement \
                 uapi::openapi::DescribeParam"
            );
        }

        let mut security = BTreeMap::new();
        for doc in &gathered.security {
            security.insert(doc.name.clone(), Vec::new());
            schemes.entry(doc.name.clone()).or_insert_with(|| SecurityScheme {
                kind: "apiKey".to_owned(),
                name: doc.cookie.clone(),
                location: "cookie".to_owned(),
                description: Some(doc.description.clone()),
            });
        }
        let path = openapi_path(&route.path);
        let route_doc = RouteDoc { name: route.name, method: &route.method, path: &path, doc: route.info.doc };
        let summary = match &options.summary {
            Some(f) => f(&route_doc),
            None => Some(title_case(route.name)),
        };
        let description = match &options.description_of {
            Some(f) => f(&route_doc),
            None => route.info.doc.map(str::to_owned),
        };
        for tag in &route.tags {
            if !tags.iter().any(|t| &t.name == tag) {
                tags.push(Tag { name: tag.clone() });
            }
        }
        let request_body = body.map(|doc| RequestBody {
            content: doc
                .media
                .iter()
                .map(|m| ((*m).to_owned(), MediaType { schema: Some(doc.schema.clone()) }))
                .collect(),
            required: doc.required,
        });
        // One handler routed on several methods is one route name: each
        // operation id must be unique, so those take their method too.
        let shared = registry.routes.iter().filter(|r| r.name == route.name && is_documented(r, options)).count() > 1;
        let operation_id = match shared {
            true => format!("{}_{}", route.name, route.method.as_str().to_ascii_lowercase()),
            false => route.name.to_owned(),
        };
        let operation = Operation {
            operation_id,
            summary,
            description,
            tags: route.tags.clone(),
            parameters: gathered.parameters,
            request_body,
            responses,
            security: match security.is_empty() {
                true => Vec::new(),
                // `{}`: callers without the cookie are served too.
                false if !gathered.security.iter().any(|s| s.required) => vec![security, BTreeMap::new()],
                false => vec![security],
            },
            extensions: BTreeMap::new(),
        };
        paths.entry(path).or_default().operations.insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    let schemas = generator.take_definitions(true).into_iter().collect();
    Ok(OpenApi {
        openapi: "3.1.0".to_owned(),
        info: Info {
            title: options.title.clone(),
            version: options.version.clone(),
            description: options.description.clone(),
        },
        json_schema_dialect: "https://spec.openapis.org/oas/3.1/dialect/base".to_owned(),
        paths,
        components: Components { schemas, security_schemes: schemes },
        tags,
        extensions: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_title_case_summaries() {
        assert_eq!(title_case("logout_everywhere"), "Logout Everywhere");
        assert_eq!(title_case("me"), "Me");
        assert_eq!(title_case("__private_x"), "Private X");
    }

    #[test]
    fn catch_all_segments_become_plain_parameters() {
        assert_eq!(openapi_path("/files/{*rest}"), "/files/{rest}");
        assert_eq!(openapi_path("/users/{user_id}"), "/users/{user_id}");
    }

    #[test]
    fn optional_schemas_lose_their_null() {
        let s = non_null(schemars::json_schema!({"type": ["integer", "null"], "format": "int64"}));
        assert_eq!(s.to_value(), serde_json::json!({"type": "integer", "format": "int64"}));
        let s = non_null(schemars::json_schema!({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]}));
        assert_eq!(s.to_value(), serde_json::json!({"$ref": "#/components/schemas/A"}));
    }
}
