//! Arbitrary bytes as a Markdown article (`*.md`, TOML or YAML front matter).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod oracle;

fuzz_target!(|data: &[u8]| {
    oracle::check("fuzz/post.md", data);
});
