//! What a handler or a provider tells the OpenAPI document about itself, as
//! carried by [`HandlerInfo`](crate::addon::HandlerInfo) and
//! [`ParamInfo`](crate::addon::ParamInfo): a leaf, so the core can hold it
//! whether or not the `openapi` feature builds documents.
//!
//! With the feature, a type says how it shows in a document by implementing
//! [`DescribeParam`] (a parameter or a request body) or [`DescribeResponse`]
//! (what a handler returns); any type with a `schemars::JsonSchema` is a
//! parameter schema already. `#[handler]` picks these up at compile time, and
//! a type that has none still compiles and serves: it shows as `{}`.

use std::borrow::Cow;

#[cfg(feature = "openapi")]
pub use schemars::SchemaGenerator;
#[cfg(feature = "openapi")]
pub(crate) use schemars::{JsonSchema, Schema};

/// Without the `openapi` feature no generator is ever made: the description
/// functions `#[handler]` records are never called.
#[cfg(not(feature = "openapi"))]
pub struct SchemaGenerator {
    _never: std::convert::Infallible,
}

/// What the document says of a parameter's or a request body's type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TypeDoc {
    /// Its JSON Schema.
    #[cfg(feature = "openapi")]
    pub schema: Schema,
    /// For a body: the media types it reads (`application/json`, ...).
    pub media: Vec<&'static str>,
    /// Whether the request must carry it (`Option<T>` need not).
    pub required: bool,
}

#[cfg(feature = "openapi")]
impl TypeDoc {
    /// A required value of `schema`, read as `media` when a body.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    /// let doc = uapi::openapi::TypeDoc::new(generator.subschema_for::<String>(), &["text/plain"]);
    /// assert!(doc.required);
    /// ```
    pub fn new(schema: Schema, media: &[&'static str]) -> Self {
        TypeDoc { schema, media: media.to_vec(), required: true }
    }

    /// The same, not required.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
}

/// Describes the type of a parameter that `#[handler]` saw: what
/// [`DescribeParam::describe`] or the type's JSON Schema gives.
pub type DescribeTypeFn = fn(&mut SchemaGenerator) -> TypeDoc;

/// One answer of an operation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseDoc {
    /// Its status code; `None` for "any other" (OpenAPI's `default`).
    pub status: Option<u16>,
    /// What it says.
    pub description: Cow<'static, str>,
    /// The media type of its body, if it has one.
    pub media: Option<&'static str>,
    /// The body's JSON Schema (`None`: no body, or one of unknown shape).
    #[cfg(feature = "openapi")]
    pub schema: Option<Schema>,
    /// Given only to writes (POST, PUT, PATCH, DELETE), as the cross-site
    /// guard's 403.
    pub writes_only: bool,
}

impl ResponseDoc {
    /// An answer with `status` and no body.
    ///
    /// # Examples
    ///
    /// ```
    /// let doc = uapi::addon::ResponseDoc::new(204, "done");
    /// assert_eq!(doc.status, Some(204));
    /// ```
    pub fn new(status: u16, description: impl Into<Cow<'static, str>>) -> Self {
        ResponseDoc {
            status: Some(status),
            description: description.into(),
            media: None,
            #[cfg(feature = "openapi")]
            schema: None,
            writes_only: false,
        }
    }

    /// The same, given only to writes (POST, PUT, PATCH, DELETE).
    pub fn writes_only(mut self) -> Self {
        self.writes_only = true;
        self
    }

    /// The same with a body of `media` (and `schema`, when known).
    #[cfg(feature = "openapi")]
    pub fn with_body(mut self, media: &'static str, schema: Option<Schema>) -> Self {
        self.media = Some(media);
        self.schema = schema;
        self
    }
}

/// Describes what a handler returns: appends its answers.
pub type DescribeResponsesFn = fn(&mut SchemaGenerator, &mut Vec<ResponseDoc>);

/// A security scheme an operation needs when it uses a provider: uapi's
/// session stores declare an API key in their cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityDoc {
    /// The scheme's name in the document (a session store uses its cookie's).
    pub name: String,
    /// The cookie that carries the key.
    pub cookie: String,
    /// What it is.
    pub description: String,
    /// Whether the operation refuses callers without it (`current_user_id`
    /// does; a session store alone serves anonymous callers too).
    pub required: bool,
}

impl SecurityDoc {
    /// An API key carried in cookie `cookie`, as scheme `cookie`.
    ///
    /// # Examples
    ///
    /// ```
    /// let doc = uapi::addon::SecurityDoc::cookie("session_id", "the session");
    /// assert_eq!(doc.name, "session_id");
    /// ```
    pub fn cookie(cookie: impl Into<String>, description: impl Into<String>) -> Self {
        let cookie = cookie.into();
        SecurityDoc { name: cookie.clone(), cookie, description: description.into(), required: false }
    }

    /// The same, required: the operation refuses callers without it.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// A type that knows how it shows as a parameter or a request body: the
/// body extractors (`ReqBody<T>`, `Json<T>`, `FormBody<T>`, `ReqBytes`),
/// `Header<T>`, `Cookie`, and your own [`FromRequest`](crate::addon::FromRequest)
/// types. Other parameter types show by their `JsonSchema`.
///
/// # Examples
///
/// ```
/// use uapi::openapi::{DescribeParam, SchemaGenerator, TypeDoc};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Login { username: String, password: String }
///
/// /// Read as JSON or as a form by a `FromRequest` impl of its own.
/// struct Credentials(Login);
///
/// impl DescribeParam for Credentials {
///     fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
///         let schema = generator.subschema_for::<Login>();
///         TypeDoc::new(schema, &["application/json", "application/x-www-form-urlencoded"])
///     }
/// }
/// ```
#[cfg(feature = "openapi")]
pub trait DescribeParam {
    /// Its schema, media types and whether it is required.
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc;
}

/// A type a handler returns that knows its answers: uapi's status types,
/// `Result<A, B>`, `Option<T>`, `()`, the bare bodies (`String`, `&str`,
/// `Json<T>`, bytes).
///
/// # Examples
///
/// ```
/// use uapi::openapi::{DescribeResponse, ResponseDoc, SchemaGenerator};
///
/// /// Answers 202 with no body.
/// struct Accepted;
///
/// impl DescribeResponse for Accepted {
///     fn describe(_: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
///         out.push(ResponseDoc::new(202, "Accepted"));
///     }
/// }
/// ```
#[cfg(feature = "openapi")]
pub trait DescribeResponse {
    /// Appends its answers to `out`.
    fn describe(generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>);
}

/// Picks, at compile time, how `#[handler]` describes a type (autoref
/// specialisation, as [`crate::__private::probe`]): a `DescribeParam` or
/// `DescribeResponse` impl, else a `JsonSchema` (parameters), else nothing.
#[doc(hidden)]
pub mod probe {
    use std::marker::PhantomData;

    use super::{DescribeTypeFn, ResponseDoc, SchemaGenerator};

    /// A zero-sized stand-in for `T`.
    pub struct DocProbe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

    impl<T: ?Sized> Clone for DocProbe<T> {
        fn clone(&self) -> Self {
            *self
        }
    }
    impl<T: ?Sized> Copy for DocProbe<T> {}

    impl<T: ?Sized> DocProbe<T> {
        /// A probe.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            DocProbe(PhantomData)
        }
    }

    /// Tier 1 for parameters: `T: DescribeParam`.
    pub trait ViaDescribe {
        /// How to describe it.
        fn uapi_describe(self) -> Option<DescribeTypeFn>;
    }

    /// Tier 2 for parameters: a body extractor of a type without a schema
    /// (its media type, a schema of `{}`).
    pub trait ViaOpaqueBody {
        /// How to describe it.
        fn uapi_describe(self) -> Option<DescribeTypeFn>;
    }

    /// Tier 3 for parameters: `T: JsonSchema`.
    pub trait ViaSchema {
        /// How to describe it.
        fn uapi_describe(self) -> Option<DescribeTypeFn>;
    }

    /// Last tier for parameters: not described.
    pub trait ViaNoDoc {
        /// Nothing.
        fn uapi_describe(self) -> Option<DescribeTypeFn>;
    }

    impl<T: ?Sized> ViaNoDoc for DocProbe<T> {
        fn uapi_describe(self) -> Option<DescribeTypeFn> {
            None
        }
    }

    /// Tier 1 for answers: `T: DescribeResponse`.
    pub trait ViaResponses {
        /// Appends its answers.
        fn uapi_responses(self, generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>);
    }

    /// Tier 2 for answers: a status type (or `Json`) whose body does not
    /// describe itself: its status, a body of unknown shape.
    pub trait ViaStatusOnly {
        /// Appends its answer.
        fn uapi_responses(self, generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>);
    }

    /// Last tier for answers: one of unknown shape.
    pub trait ViaNoResponses {
        /// Appends an answer of unknown shape, naming the type.
        fn uapi_responses(self, generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>);
    }

    impl<T: ?Sized> ViaNoResponses for DocProbe<T> {
        fn uapi_responses(self, _: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
            out.push(ResponseDoc {
                status: None,
                description: format!("an answer of `{}`, which does not describe itself", std::any::type_name::<T>())
                    .into(),
                media: None,
                #[cfg(feature = "openapi")]
                schema: None,
                writes_only: false,
            });
        }
    }

    #[cfg(feature = "openapi")]
    mod with_schemas {
        use super::super::{DescribeParam, DescribeResponse, JsonSchema, ResponseDoc, SchemaGenerator, TypeDoc};
        use super::{DescribeTypeFn, DocProbe, ViaDescribe, ViaResponses, ViaSchema};

        impl<T: ?Sized + DescribeParam> ViaDescribe for &&&DocProbe<T> {
            fn uapi_describe(self) -> Option<DescribeTypeFn> {
                Some(T::describe)
            }
        }

        fn by_schema<T: ?Sized + JsonSchema>(generator: &mut SchemaGenerator) -> TypeDoc {
            TypeDoc::new(generator.subschema_for::<T>(), &[])
        }

        impl<T: ?Sized + JsonSchema> ViaSchema for &DocProbe<T> {
            fn uapi_describe(self) -> Option<DescribeTypeFn> {
                Some(by_schema::<T>)
            }
        }

        impl<T: ?Sized + DescribeResponse> ViaResponses for &&DocProbe<T> {
            fn uapi_responses(self, generator: &mut SchemaGenerator, out: &mut Vec<ResponseDoc>) {
                T::describe(generator, out);
            }
        }
    }
}
