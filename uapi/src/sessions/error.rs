//! error
pub struct SessionError;
