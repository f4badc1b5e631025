//! Arbitrary bytes as a User-Agent: the aggregator table and the product token (`feedpub::stats::agents`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../oracles/user_agent.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = oracle::check(data) {
        panic!("{violation}");
    }
});
