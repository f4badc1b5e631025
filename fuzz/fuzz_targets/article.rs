//! Arbitrary bytes as a scraped text article (`*.txt`).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod oracle;

fuzz_target!(|data: &[u8]| {
    oracle::check("fuzz/article.txt", data);
});
