//! Path and query parameters by name, for any `FromStr` type.

use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;

const PATH: &str = "path parameter";
const QUERY: &str = "query parameter";

fn parse<T>(source: &'static str, plan: &ParamPlan, raw: &str) -> Result<T, Rejection>
where
    T: FromStr,
    T::Err: Display,
{
    raw.parse::<T>().map_err(|e| Rejection::invalid(source, plan.name(), format!("{e} (got {raw:?})")))
}

/// The decoded path parameter, or None when the plan reads the query.
fn path_value<'c>(ctx: &'c RequestCtx, plan: &ParamPlan) -> Option<Result<Cow<'c, str>, Rejection>> {
    let index = plan.path_index()?;
    let raw = ctx.raw_path_param(index)?;
    if !raw.contains('%') {
        // Nothing to decode: the path is already UTF-8.
        return Some(Ok(Cow::Borrowed(raw)));
    }
    Some(
        percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| Rejection::invalid(PATH, plan.name(), "not valid UTF-8 once percent-decoded")),
    )
}

/// Every value of the query key `name`, decoded.
fn query_values<'c>(ctx: &'c RequestCtx, name: &'c str) -> impl Iterator<Item = Cow<'c, str>> + 'c {
    let query = ctx.parts().uri.query().unwrap_or("");
    form_urlencoded::parse(query.as_bytes()).filter(move |(k, _)| k == name).map(|(_, v)| v)
}

/// A required `FromStr` parameter: the path parameter of that name, else the query's.
pub(crate) fn required<T>(ctx: &mut RequestCtx, plan: &ParamPlan) -> Result<T, Rejection>
where
    T: FromStr,
    T::Err: Display,
{
    if let Some(value) = path_value(ctx, plan) {
        return parse(PATH, plan, &value?);
    }
    match query_values(ctx, plan.name()).next() {
        Some(v) => parse(QUERY, plan, &v),
        None => Err(Rejection::missing(QUERY, plan.name())),
    }
}

/// An optional one: `None` when absent, a 400 when present and unparsable.
pub(crate) fn optional<T>(ctx: &mut RequestCtx, plan: &ParamPlan) -> Result<Option<T>, Rejection>
where
    T: FromStr,
    T::Err: Display,
{
    match required::<T>(ctx, plan) {
        Ok(v) => Ok(Some(v)),
        Err(r) if r.is_missing() => Ok(None),
        Err(r) => Err(r),
    }
}

/// Every value of a repeated query key (none is an empty list).
pub(crate) fn repeated<T>(ctx: &mut RequestCtx, plan: &ParamPlan) -> Result<Vec<T>, Rejection>
where
    T: FromStr,
    T::Err: Display,
{
    query_values(ctx, plan.name()).map(|v| parse(QUERY, plan, &v)).collect()
}
