//! [`Body`]: what every response carries. uapi's own responses are one
//! buffer, sent as is; a tower layer that streams or transforms the body
//! (compression, say) hands over a body of its own, kept boxed. An enum, not
//! always a box: an app without layers pays no allocation for it. The buffer
//! is a bare `Bytes` (emptied once sent) rather than http-body-util's `Full`
//! (an `Option<Bytes>`): so the enum stays 32 bytes, a response 144, and
//! moving one costs what it did before layers existed (callgrind: a `Full`
//! variant made every response 8 bytes larger, past the size the compiler
//! moves inline, about 100 instructions of `memcpy` per request).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;

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
    /// What is left to send: all of it, or nothing once sent.
    Full(Bytes),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body of `bytes`, sent as is.
    pub fn new(bytes: impl Into<Bytes>) -> Body {
        Body(Inner::Full(bytes.into()))
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
            Inner::Full(b) if b.is_empty() => Poll::Ready(None),
            Inner::Full(b) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(b))))),
            Inner::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(b) => b.is_empty(),
            Inner::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(b) => SizeHint::with_exact(b.len() as u64),
            Inner::Boxed(b) => b.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    #[test]
    fn a_buffer_is_one_frame_then_the_end_and_the_type_stays_32_bytes() {
        assert_eq!(std::mem::size_of::<Body>(), 32);
        let mut body = Body::from("hi");
        assert_eq!((body.size_hint().exact(), body.is_end_stream()), (Some(2), false));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let frame = match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().ok(),
            _ => None,
        };
        assert_eq!(frame.as_deref(), Some(&b"hi"[..]));
        assert!(body.is_end_stream());
        assert!(matches!(Pin::new(&mut body).poll_frame(&mut cx), Poll::Ready(None)));
        assert!(Body::empty().is_end_stream());
    }
}
