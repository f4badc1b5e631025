//! Arbitrary bytes as what a client sends over one HTTP/1 connection, through hyper and the real handler (`feedpub::http::server::serve_http1`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../oracles/http_head.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = oracle::check(data) {
        panic!("{violation}");
    }
});
