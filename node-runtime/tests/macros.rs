//! Compile-time behaviour of the macros: every error message has a failing case,
//! and every supported shape compiles and round-trips.

#[test]
fn derive_message() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/message/pass/*.rs");
    t.compile_fail("tests/ui/message/fail/*.rs");
}

#[test]
fn main_attribute() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/main/fail/*.rs");
}

#[test]
fn derive_node() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/node/pass/*.rs");
    t.compile_fail("tests/ui/node/fail/*.rs");
}
