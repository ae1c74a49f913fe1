//! Picks each parameter type's built-in source at compile time.
//!
//! `#[handler]` calls `(&&&&Probe::<T>::new()).uapi_kind()` for every parameter
//! type `T`. Method resolution tries the receiver with the most references first
//! ("autoref specialisation"), so the first tier whose bound `T` meets wins:
//! `FromRequest`, then `Option<FromStr>`, then `Vec<FromStr>`, then `FromStr`, then
//! "only a provider can give it". This works on stable Rust because `T` is a
//! concrete type where the macro expands.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use super::scalar;
use super::FromRequest;
use crate::ctx::ExtractFn;
use crate::handler::ParamKind;

/// A zero-sized stand-in for the type `T` (`Copy`, so the last tier can take it by value).
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Probe<T> {}

impl<T> Probe<T> {
    /// A probe.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

/// Tier 1: the type implements [`FromRequest`].
pub trait ViaExtractor {
    /// The parameter type.
    type Target;
    /// Its built-in source.
    fn uapi_kind(self) -> ParamKind;
    /// How to read it.
    fn uapi_extract(self) -> ExtractFn<Self::Target>;
}

impl<T: FromRequest> ViaExtractor for &&&&Probe<T> {
    type Target = T;
    fn uapi_kind(self) -> ParamKind {
        ParamKind::Extractor(T::KIND)
    }
    fn uapi_extract(self) -> ExtractFn<T> {
        T::from_request
    }
}

/// Tier 2: `Option<T: FromStr>`.
pub trait ViaOptional {
    /// The parameter type.
    type Target;
    /// Its built-in source.
    fn uapi_kind(self) -> ParamKind;
    /// How to read it.
    fn uapi_extract(self) -> ExtractFn<Self::Target>;
}

impl<U> ViaOptional for &&&Probe<Option<U>>
where
    U: FromStr + Send + 'static,
    U::Err: Display,
{
    type Target = Option<U>;
    fn uapi_kind(self) -> ParamKind {
        ParamKind::OptionalScalar
    }
    fn uapi_extract(self) -> ExtractFn<Option<U>> {
        scalar::optional::<U>
    }
}

/// Tier 3: `Vec<T: FromStr>`.
pub trait ViaRepeated {
    /// The parameter type.
    type Target;
    /// Its built-in source.
    fn uapi_kind(self) -> ParamKind;
    /// How to read it.
    fn uapi_extract(self) -> ExtractFn<Self::Target>;
}

impl<U> ViaRepeated for &&Probe<Vec<U>>
where
    U: FromStr + Send + 'static,
    U::Err: Display,
{
    type Target = Vec<U>;
    fn uapi_kind(self) -> ParamKind {
        ParamKind::RepeatedScalar
    }
    fn uapi_extract(self) -> ExtractFn<Vec<U>> {
        scalar::repeated::<U>
    }
}

/// Tier 4: `T: FromStr`.
pub trait ViaScalar {
    /// The parameter type.
    type Target;
    /// Its built-in source.
    fn uapi_kind(self) -> ParamKind;
    /// How to read it.
    fn uapi_extract(self) -> ExtractFn<Self::Target>;
}

impl<T> ViaScalar for &Probe<T>
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    type Target = T;
    fn uapi_kind(self) -> ParamKind {
        ParamKind::Scalar
    }
    fn uapi_extract(self) -> ExtractFn<T> {
        scalar::required::<T>
    }
}

/// Tier 5: anything else; only a provider can give it.
pub trait ViaProvider {
    /// The parameter type.
    type Target;
    /// Its built-in source.
    fn uapi_kind(self) -> ParamKind;
    /// How to read it.
    fn uapi_extract(self) -> ExtractFn<Self::Target>;
}

// No `Send` bound: a non-`Send` type gets one clear error from
// `__private::assert_param` instead of "method exists but bounds not satisfied".
impl<T: 'static> ViaProvider for Probe<T> {
    type Target = T;
    fn uapi_kind(self) -> ParamKind {
        ParamKind::ProviderOnly
    }
    fn uapi_extract(self) -> ExtractFn<T> {
        // `App::build` refuses routes with such a parameter and no provider.
        crate::ctx::no_builtin_source::<T>
    }
}
