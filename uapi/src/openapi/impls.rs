//! How uapi's own types show in a document: the extractors as parameters
//! and bodies, the status types and bare bodies as answers.

use bytes::Bytes;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::describe::probe::{DocProbe, ViaOpaqueBody, ViaStatusOnly};
use crate::describe::{DescribeParam, DescribeResponse, DescribeTypeFn, ResponseDoc, TypeDoc};
use crate::extract::{Cookie, FormBody, Header, ReqBody, ReqBytes};
use crate::response::{Json, Response};
use crate::status;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const OCTETS: &str = "application/octet-stream";
const TEXT: &str = "text/plain";

fn binary() -> Schema {
    json_schema!({ "type": "string", "contentMediaType": OCTETS })
}

impl<T: JsonSchema> DescribeParam for ReqBody<T> {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(generator.subschema_for::<T>(), &[JSON])
    }
}

impl<T: JsonSchema> DescribeParam for Json<T> {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(generator.subschema_for::<T>(), &[JSON])
    }
}

impl<T: JsonSchema> DescribeParam for FormBody<T> {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(generator.subschema_for::<T>(), &[FORM])
    }
}

impl DescribeParam for ReqBytes {
    fn describe(_: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(binary(), &[OCTETS])
    }
}

impl<T: JsonSchema> DescribeParam for Header<T> {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(generator.subschema_for::<T>(), &[])
    }
}

impl DescribeParam for Cookie {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        TypeDoc::new(generator.subschema_for::<String>(), &[])
    }
}

/// `Option<T>` of any described type: the same, not required.
impl<T: DescribeParam> DescribeParam for Option<T> {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        T::describe(generator).optional()
    }
}

/// A response body: its media type and schema (`None`: no body).
pub trait DescribeBody {
    /// The media type and schema of the body, or `None` for no body.
    fn body(generator: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)>;
}

impl DescribeBody for () {
    fn body(_: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        None
    }
}

impl DescribeBody for String {
    fn body(generator: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        Some((TEXT, Some(generator.subschema_for::<String>())))
    }
}

impl DescribeBody for &'static str {
    fn body(generator: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        Some((TEXT, Some(generator.subschema_for::<String>())))
    }
}

impl DescribeBody for Bytes {
    fn body(_: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        Some((OCTETS, Some(binary())))
    }
}

impl DescribeBody for Vec<u8> {
    fn body(_: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        Some((OCTETS, Some(binary())))
    }
}

impl<T: JsonSchema> DescribeBody for Json<T> {
    fn body(generator: &mut SchemaGenerator) -> Option<(&'static str, Option<Schema>)> {
        Some((JSON, Some(generator.subschema_for::<T>())))
    }
}

fn answer<B: DescribeBody>(generator: &mut SchemaGenerator, code: http::StatusCode) -> ResponseDoc {
    let description = code.canonical_reason().unwrap_or("a response");
    let doc = ResponseDoc::new(code.as_u16(), description);
    match B::body(generator) {
        Some((media, schema)) => doc.with_body(media, schema),
        None => doc,
    }
}

macro_rules! describe_statuses {
    ($($name:ident),*) => {$(
        impl<B: DescribeBody> DescribeResponse for status::$name<B> {
            fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
                out.push(answer::<B>(generator, status::$name::<B>::STATUS));
            }
        }
    )*};
}

/// A body of type `T`, which has no schema: `{}`, and a warning naming it.
fn opaque_body<T: ?Sized>(media: &'static str) -> TypeDoc {
    tracing::warn!(
        "OpenAPI: `{}` has no schema and shows as {{}}: derive schemars::JsonSchema for it",
        std::any::type_name::<T>()
    );
    TypeDoc::new(json_schema!({}), &[media])
}

macro_rules! opaque_bodies {
    ($($wrapper:ident => $media:expr),*) => {$(
        impl<T> ViaOpaqueBody for &&DocProbe<$wrapper<T>> {
            fn uapi_describe(self) -> Option<DescribeTypeFn> {
                fn describe<T>(_: &mut SchemaGenerator) -> TypeDoc {
                    opaque_body::<T>($media)
                }
                Some(describe::<T>)
            }
        }
    )*};
}

opaque_bodies!(ReqBody => JSON, Json => JSON, FormBody => FORM);

/// An answer of `code` whose body `B` does not describe itself.
fn status_only<B: ?Sized>(code: http::StatusCode, out: &mut Vec<ResponseDoc>) {
    tracing::warn!(
        "OpenAPI: the body `{}` has no schema and shows as {{}}: derive schemars::JsonSchema for it",
        std::any::type_name::<B>()
    );
    let description = code.canonical_reason().unwrap_or("a response");
    out.push(ResponseDoc::new(code.as_u16(), description).with_body("*/*", Some(json_schema!({}))));
}

impl<T> ViaStatusOnly for &DocProbe<Json<T>> {
    fn uapi_responses(self, _: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        tracing::warn!(
            "OpenAPI: `{}` has no schema and shows as {{}}: derive schemars::JsonSchema for it",
            std::any::type_name::<T>()
        );
        out.push(ResponseDoc::new(200, "OK").with_body(JSON, Some(json_schema!({}))));
    }
}

macro_rules! status_only {
    ($($name:ident),*) => {$(
        impl<B> ViaStatusOnly for &DocProbe<status::$name<B>> {
            fn uapi_responses(self, _: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
                status_only::<B>(status::$name::<B>::STATUS, out);
            }
        }
    )*};
}

status_only!(
    Ok,
    Created,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    InternalServerError,
    ServiceUnavailable
);

describe_statuses!(
    Ok,
    Created,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    InternalServerError,
    ServiceUnavailable
);

impl DescribeResponse for status::NoContent {
    fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc::new(204, "No Content"));
    }
}

impl DescribeResponse for status::Found {
    fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc::new(302, "Found (see `Location`)"));
    }
}

impl DescribeResponse for status::SeeOther {
    fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc::new(303, "See Other (see `Location`)"));
    }
}

/// As the framework answers `()`: 204.
impl DescribeResponse for () {
    fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc::new(204, "No Content"));
    }
}

macro_rules! describe_bare_bodies {
    ($($t:ty),*) => {$(
        impl DescribeResponse for $t {
            fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
                out.push(answer::<$t>(generator, http::StatusCode::OK));
            }
        }
    )*};
}

describe_bare_bodies!(String, &'static str, Bytes, Vec<u8>);

impl<T: JsonSchema> DescribeResponse for Json<T> {
    fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(answer::<Json<T>>(generator, http::StatusCode::OK));
    }
}

impl<A: DescribeResponse, B: DescribeResponse> DescribeResponse for Result<A, B> {
    fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        A::describe(generator, out);
        B::describe(generator, out);
    }
}

/// `T`'s answers, or 204 for `None`.
impl<T: DescribeResponse> DescribeResponse for Option<T> {
    fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        T::describe(generator, out);
        out.push(ResponseDoc::new(204, "No Content"));
    }
}

/// A response built by hand could be anything: OpenAPI's `default`.
impl DescribeResponse for Response {
    fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc { status: None, ..ResponseDoc::new(0, "any other answer") });
    }
}
