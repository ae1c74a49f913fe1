//! The package that owns uapi's integration tests (`tests/`) and examples
//! (`examples/`). Its documentation is the README, so `cargo test` compiles
//! (and, where they are not `no_run`, runs) every snippet of it.
#![doc = include_str!("../README.md")]
