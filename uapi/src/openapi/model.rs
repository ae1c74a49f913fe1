//! The OpenAPI 3.1 document as a typed model: what
//! [`App::make_openapi_spec`](crate::App::make_openapi_spec) returns, to
//! change before serving, serialised with serde.
//!
//! Written here rather than taken from a crate: the models on crates.io
//! (utoipa's, oas3's) carry schemas of their own type, so every schemars
//! schema would be converted through JSON and back, and aide's is tied to
//! aide's release of schemars. This one holds `schemars::Schema` as is and
//! has only the objects uapi writes; [`Operation::extensions`] and
//! [`OpenApi::extensions`] carry anything else (`x-...` keys).

use std::collections::BTreeMap;

use schemars::Schema;
use serde::Serialize;
use serde_json::Value;

/// An OpenAPI 3.1 document.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct OpenApi {
    /// The OpenAPI version: `3.1.0`.
    pub openapi: String,
    /// Title, version, description.
    pub info: Info,
    /// The JSON Schema dialect of the schemas (2020-12, OpenAPI's own).
    #[serde(rename = "jsonSchemaDialect")]
    pub json_schema_dialect: String,
    /// Each path template (`/users/{user_id}`) and its operations.
    pub paths: BTreeMap<String, PathItem>,
    /// The schemas the operations refer to, and the security schemes.
    pub components: Components,
    /// The tags, in the order first used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Extra keys at the top level (`x-...`).
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

impl OpenApi {
    /// The document as pretty JSON.
    ///
    /// # Panics
    ///
    /// Never: the model serialises to JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an OpenAPI model serialises")
    }

    /// The operation `method` (lowercase: `get`, `post`, ...) of `path`.
    pub fn operation(&self, path: &str, method: &str) -> Option<&Operation> {
        self.paths.get(path)?.operations.get(method)
    }

    /// Every operation, with its path and method.
    pub fn operations_mut(&mut self) -> impl Iterator<Item = (&str, &str, &mut Operation)> {
        self.paths
            .iter_mut()
            .flat_map(|(path, item)| item.operations.iter_mut().map(move |(m, op)| (path.as_str(), m.as_str(), op)))
    }
}

/// The API's title, version and description.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Info {
    /// Its title.
    pub title: String,
    /// Its version (the API's, not OpenAPI's).
    pub version: String,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The operations of one path, by lowercase method.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct PathItem {
    /// `get`, `post`, ... and their operations.
    #[serde(flatten)]
    pub operations: BTreeMap<String, Operation>,
}

/// One route and method.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Operation {
    /// The route name.
    pub operation_id: String,
    /// The route name in title case, or what the summary transformer made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The handler's doc comment, or what the description transformer made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Path, query, header and cookie parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// The request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBody>,
    /// Status code (or `default`) to answer.
    pub responses: BTreeMap<String, ResponseObject>,
    /// The security requirements: any one of them suffices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<BTreeMap<String, Vec<String>>>,
    /// Extra keys (`x-...`).
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

/// Where a parameter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterIn {
    /// A segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

/// A path, query, header or cookie parameter.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Parameter {
    /// Its name on the wire.
    pub name: String,
    /// Where it is read.
    #[serde(rename = "in")]
    pub location: ParameterIn,
    /// Whether the request must carry it.
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
    /// `form` for a repeated query parameter (with `explode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// `true` for a repeated query parameter: `?tag=a&tag=b`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explode: Option<bool>,
}

/// A request body: its media types.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RequestBody {
    /// Media type to schema.
    pub content: BTreeMap<String, MediaType>,
    /// Whether the request must carry it.
    pub required: bool,
}

/// A body of one media type.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct MediaType {
    /// Its schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
}

/// One answer.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ResponseObject {
    /// What it means.
    pub description: String,
    /// Its body by media type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, MediaType>,
}

/// Reusable schemas and the security schemes.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Components {
    /// Named schemas, referred to as `#/components/schemas/<name>`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub schemas: BTreeMap<String, Value>,
    /// Security schemes by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub security_schemes: BTreeMap<String, SecurityScheme>,
}

/// An API key security scheme (what uapi's session stores declare).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SecurityScheme {
    /// `apiKey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The cookie (or header) name.
    pub name: String,
    /// `cookie` (or `header`, `query`).
    #[serde(rename = "in")]
    pub location: String,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A tag, for grouping operations.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Tag {
    /// Its name.
    pub name: String,
}
