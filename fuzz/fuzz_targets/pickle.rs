#![no_main]
// Replayed on fuzz/corpus/pickle/ by crates/fixture/tests/fuzz_corpus.rs (stable, CI).
libfuzzer_sys::fuzz_target!(|data: &[u8]| acd_fixture::fuzz::pickle(data));
