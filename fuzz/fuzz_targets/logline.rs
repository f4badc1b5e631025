//! Arbitrary bytes as a line of a combined-format access log, and as the fields of a response the server's own access log writes (`feedpub::stats::logline`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../oracles/logline.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = oracle::check(data) {
        panic!("{violation}");
    }
});
