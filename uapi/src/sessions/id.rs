//! id
pub struct SessionId;
