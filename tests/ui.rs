//! Compile-time behaviour of the macros: what compiles, and the error each mistake
//! gives. Update the expected `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/correct/*.rs");
    cases.compile_fail("tests/ui/incorrect/*.rs");
}
