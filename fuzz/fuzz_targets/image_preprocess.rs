#![no_main]
// Replayed on fuzz/corpus/image_preprocess/ by crates/fixture/tests/fuzz_corpus.rs (stable, CI).
libfuzzer_sys::fuzz_target!(|data: &[u8]| acd_fixture::fuzz::image_preprocess(data));
