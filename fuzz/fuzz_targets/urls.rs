//! Arbitrary bytes as a request path, a tag, a language and an article id (`feedpub::urls`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../oracles/urls.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = oracle::check(data) {
        panic!("{violation}");
    }
});
