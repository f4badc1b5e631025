//! Arbitrary bytes as a configuration file (`feedpub::Config::parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../oracles/config.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = oracle::check(data) {
        panic!("{violation}");
    }
});
