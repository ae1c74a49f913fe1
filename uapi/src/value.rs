//! A provider that hands out clones of one value (app state).

use std::future::Future;

use crate::ctx::{ParamPlan, RequestCtx};
use crate::handler::{HandlerInfo, Injectable};
use crate::response::Response;

pub(crate) struct Value<T>(pub(crate) T);

impl<T: Clone + Send + Sync + 'static> Injectable for Value<T> {
    type Output = T;
    type Provided = T;

    fn info(&self) -> HandlerInfo {
        HandlerInfo::new("value", Vec::new(), std::any::type_name::<T>())
    }

    fn call<'a>(
        &'a self,
        _: &'a mut RequestCtx,
        _: &'a [ParamPlan],
    ) -> impl Future<Output = Result<T, Response>> + Send + 'a {
        std::future::ready(Ok(self.0.clone()))
    }

    fn provide(out: T) -> Result<T, Response> {
        Ok(out)
    }
}
