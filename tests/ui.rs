//! Compile-time specification of `#[handler]`: each mistake in `tests/ui/fail`
//! is a compile error with a message on the offending tokens (see the `.stderr`
//! next to it); the programs in `tests/ui/pass` compile.

/// Each file in `ui/fail` fails to compile with its recorded message; each in
/// `ui/pass` compiles and runs.
#[test]
fn handler_macro_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
