//! uapi: HTTP APIs from plain async functions.
#![allow(missing_docs)]

pub mod sessions;
