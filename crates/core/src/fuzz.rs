//! Entry points for hostile input, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and
//! the test that replays their committed corpora (`crates/core/tests/fuzz_corpus.rs`), so that
//! both run exactly the same code. Each takes arbitrary bytes, runs one parser the way the CLI and
//! the page do, and panics only when an invariant of a *successful* result is broken; an input the
//! parser refuses is fine (it must be refused with an error, never a panic, hang or huge allocation).

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::OnceLock;

use crate::clip::tokenizer::ClipTokenizer;
use crate::preprocess::{preprocess, DecodeLimits};
use crate::weights::bundle::{parse_manifest, read_shard, verify_files};
use crate::weights::pickle::read_torch_checkpoint;
use crate::weights::TensorStore;

/// Model input size used by [`image_preprocess`] (small, so that an execution is fast).
pub const FUZZ_IMAGE_SIZE: usize = 16;

/// Decode limits of [`image_preprocess`]: smaller than the defaults so that no accepted input
/// takes long, the same code path otherwise.
pub const FUZZ_LIMITS: DecodeLimits = DecodeLimits {
    max_bytes: 1 << 20,
    max_pixels: 1 << 20,
};

/// Image bytes → decode (limits, EXIF orientation, first frame) → resize → normalise.
pub fn image_preprocess(data: &[u8]) {
    if let Ok((input, img)) = preprocess(data, FUZZ_IMAGE_SIZE, &FUZZ_LIMITS) {
        assert!(img.width > 0 && img.height > 0);
        assert!((img.width * img.height) as u64 <= FUZZ_LIMITS.max_pixels);
        assert_eq!(img.pixels.len(), img.width * img.height * 3);
        assert_eq!(input.len(), 3 * FUZZ_IMAGE_SIZE * FUZZ_IMAGE_SIZE);
        assert!(input.iter().all(|v| v.is_finite() && v.abs() < 3.0));
    }
}

/// `manifest.json` text, a NUL byte, then one weight shard: the manifest is parsed (format,
/// version, config, files) and checked against the shard (sizes, SHA-256), and the shard is
/// decoded as a bundle weight shard (int8 + `__scales__`, f16, f32) and as a plain safetensors file.
pub fn bundle(data: &[u8]) {
    let (json, shard) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(text) = std::str::from_utf8(json) {
        if let Ok(manifest) = parse_manifest(text) {
            let files: HashMap<String, Vec<u8>> = manifest
                .files
                .iter()
                .map(|f| (f.file.clone(), shard.to_vec()))
                .collect();
            let _ = verify_files(&manifest, &files);
        }
    }
    let mut store = TensorStore::default();
    if read_shard("weights-00000.safetensors", shard, &mut store).is_ok() {
        for (_, t) in store.iter() {
            assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
        }
    }
    if let Ok(store) = TensorStore::from_safetensors(shard) {
        for (_, t) in store.iter() {
            assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
        }
    }
}

/// A PyTorch checkpoint reader run on the bytes three ways: as a file (format detection:
/// zip, legacy `torch.save`, safetensors), and with the bytes as `archive/data.pkl` of a
/// torch.save zip whose storages `archive/data/0` and `archive/data/1` hold 64 bytes each — so
/// that the pickle machine is reached without the fuzzer having to forge zip checksums.
pub fn pickle(data: &[u8]) {
    let check = |tensors: Vec<(String, crate::weights::raw::RawTensor)>| {
        for (_, t) in tensors {
            assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
        }
    };
    if let Ok(t) = read_torch_checkpoint(data) {
        check(t);
    }
    let _ = TensorStore::from_bytes(data);
    let storage: Vec<u8> = (0..64u8).collect();
    let archive = stored_zip(&[
        ("archive/data.pkl", data),
        ("archive/data/0", &storage),
        ("archive/data/1", &storage[..16]),
    ]);
    if let Ok(t) = read_torch_checkpoint(&archive) {
        check(t);
    }
}

/// A zip archive of stored (uncompressed) entries.
pub fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for &(name, bytes) in entries {
        // Writing to memory does not fail.
        let _ = w.start_file(name, options);
        let _ = w.write_all(bytes);
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}

fn tokenizer_instance() -> &'static ClipTokenizer {
    static TOKENIZER: OnceLock<ClipTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(ClipTokenizer::new)
}

/// Free text (lossy UTF-8) → CLIP tokens, as a free-text category is tokenized.
pub fn tokenizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let tok = tokenizer_instance();
    let ids = tok.encode(&text);
    match tok.tokenize(&text, 77) {
        Ok(padded) => {
            assert_eq!(padded.len(), 77);
            assert_eq!(&padded[1..1 + ids.len()], ids.as_slice());
        }
        Err(_) => assert!(ids.len() + 2 > 77),
    }
}
