//! Integration tests and examples for uapi live in tests/ and examples/.
