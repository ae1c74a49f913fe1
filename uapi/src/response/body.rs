//! [`Body`]: what every response carries. uapi's own responses are one
//! buffer, sent as is; a tower layer that streams or transforms the body
//! (compression, say) hands over a body of its own, kept boxed. An enum, not
//! always a box: an app without layers pays no allocation for it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use crate::body::BoxError;

/// A response body: one buffer, or (from a tower layer) any body.
///
/// # Examples
///
/// ```
/// use uapi::Body;
/// let body = Body::from("hello");
/// assert_eq!(http_body::Body::size_hint(&body).exact(), Some(5));
/// ```
pub struct Body(Inner);

enum Inner {
    Full(Full<Bytes>),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body of `bytes`, sent as is.
    pub fn new(bytes: impl Into<Bytes>) -> Body {
        Body(Inner::Full(Full::new(bytes.into())))
    }

    /// No body.
    pub fn empty() -> Body {
        Body::new(Bytes::new())
    }

    /// Any other body (a layer's), boxed; a `Body` stays as it is.
    pub fn from_body<B>(body: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A layer that leaves the body alone hands ours back: no box around a box.
        let mut slot = Some(body);
        if let Some(ours) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Body>>() {
            if let Some(ours) = ours.take() {
                return ours;
            }
        }
        match slot {
            Some(body) => Body(Inner::Boxed(UnsyncBoxBody::new(body.map_err(Into::into)))),
            None => Body::empty(),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Full(_) => f.write_str("Body(full)"),
            Inner::Boxed(_) => f.write_str("Body(boxed)"),
        }
    }
}

macro_rules! from_buffer {
    ($($t:ty),*) => {$(
        impl From<$t> for Body {
            fn from(value: $t) -> Body {
                Body::new(value)
            }
        }
    )*};
}
from_buffer!(Bytes, String, &'static str, Vec<u8>, &'static [u8]);

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Inner::Full(b) => Pin::new(b).poll_frame(cx).map_err(|never| match never {}),
            Inner::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(b) => b.is_end_stream(),
            Inner::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(b) => b.size_hint(),
            Inner::Boxed(b) => b.size_hint(),
        }
    }
}
