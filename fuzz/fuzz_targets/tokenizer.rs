#![no_main]
// Replayed on fuzz/corpus/tokenizer/ by crates/core/tests/fuzz_corpus.rs (stable, CI).
libfuzzer_sys::fuzz_target!(|data: &[u8]| acd_core::fuzz::tokenizer(data));
