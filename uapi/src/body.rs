//! The request body as the app receives it: hyper's own body from the server, or
//! any other `http_body::Body` (boxed) through the tower `Service`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

/// The error type of request bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body: kept unboxed for hyper's own, the common case.
pub enum RequestBody {
    /// From the hyper server.
    Incoming(hyper::body::Incoming),
    /// From anything else (the tower `Service`, the test client).
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
    /// No body.
    Empty,
}

impl RequestBody {
    /// Boxes any body; a `RequestBody` stays as it is (no box around a box,
    /// e.g. for a request a tower layer hands on unchanged).
    ///
    /// # Examples
    ///
    /// ```
    /// use http_body_util::Full;
    /// let body = uapi::RequestBody::new(Full::new(bytes::Bytes::from_static(b"hi")));
    /// assert!(matches!(uapi::RequestBody::new(body), uapi::RequestBody::Boxed(_)));
    /// assert!(matches!(uapi::RequestBody::new(uapi::RequestBody::Empty), uapi::RequestBody::Empty));
    /// ```
    pub fn new<B>(body: B) -> RequestBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut slot = Some(body);
        if let Some(ours) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<RequestBody>>() {
            if let Some(ours) = ours.take() {
                return ours;
            }
        }
        match slot {
            Some(body) => RequestBody::Boxed(UnsyncBoxBody::new(http_body_util::BodyExt::map_err(body, Into::into))),
            None => RequestBody::Empty,
        }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestBody")
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            RequestBody::Incoming(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            RequestBody::Boxed(b) => Pin::new(b).poll_frame(cx),
            RequestBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Incoming(b) => b.is_end_stream(),
            RequestBody::Boxed(b) => b.is_end_stream(),
            RequestBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Incoming(b) => b.size_hint(),
            RequestBody::Boxed(b) => b.size_hint(),
            RequestBody::Empty => SizeHint::with_exact(0),
        }
    }
}
