//! Injectables with their types erased, so an app can hold many kinds: a route's
//! handler answers with a [`Response`], a provider with a boxed value that the
//! per-request cache keeps and clones out.

use std::any::Any;

use crate::ctx::{BoxFuture, ErasedProvider, ParamPlan, RequestCtx};
use crate::handler::Injectable;
use crate::response::{IntoResponse, Response};

/// A provider: an [`Injectable`] whose `Provided` value the cache holds.
pub(crate) struct ProviderOf<I>(pub(crate) I);

impl<I> ErasedProvider for ProviderOf<I>
where
    I: Injectable,
    I::Provided: Clone,
{
    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        plan: &'a [ParamPlan],
    ) -> BoxFuture<'a, Result<Box<dyn Any + Send>, Response>> {
        Box::pin(async move {
            let out = self.0.call(ctx, plan).await?;
            let value = I::provide(out)?;
            Ok(Box::new(value) as Box<dyn Any + Send>)
        })
    }

    fn clone_value(&self, cached: &(dyn Any + Send), out: &mut dyn Any) {
        if let (Some(src), Some(dst)) =
            (cached.downcast_ref::<I::Provided>(), out.downcast_mut::<Option<I::Provided>>())
        {
            *dst = Some(src.clone());
        }
    }
}

/// A route handler with its output type erased.
pub(crate) trait ErasedHandler: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a mut RequestCtx, plan: &'a [ParamPlan]) -> BoxFuture<'a, Response>;
}

/// A route handler: an [`Injectable`] whose output is a response.
pub(crate) struct HandlerOf<I>(pub(crate) I);

impl<I> ErasedHandler for HandlerOf<I>
where
    I: Injectable,
    I::Output: IntoResponse,
{
    fn call<'a>(&'a self, ctx: &'a mut RequestCtx, plan: &'a [ParamPlan]) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            match self.0.call(ctx, plan).await {
                Ok(out) => out.into_response(),
                Err(refusal) => refusal,
            }
        })
    }
}
