//! The PyTorch checkpoint reader against files written by PyTorch itself
//! (`scripts/make_pickle_reference.py` writes them, with an independent safetensors reading).

use std::path::PathBuf;

use acd_core::weights::torch::{read_torch_checkpoint, PickleError};
use safetensors::{Dtype, SafeTensors};

fn data_dir() -> PathBuf {
    package_dir().join("tests/data/pickle")
}

fn read(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/make_pickle_reference.py)",
            path.display()
        )
    })
}

fn expected_names(file: &str) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_slice(&read("expected_names.json")).expect("expected_names.json");
    json.get(file)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("expected_names.json has no {file}"))
        .iter()
        .map(|v| v.as_str().expect("name").to_string())
        .collect()
}

/// Reads `file` and compares names (in order), shapes and values (bit for bit) with the reference.
fn check_against_reference(file: &str) {
    let tensors = read_torch_checkpoint(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected_names(file), "{file}: tensor names");

    let reference_bytes = read("reference.safetensors");
    let reference = SafeTensors::deserialize(&reference_bytes).expect("reference.safetensors");
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    for (name, tensor) in &tensors {
        let key = format!("{stem}/{name}");
        let view = reference
            .tensor(&key)
            .unwrap_or_else(|e| panic!("reference has no {key}: {e}"));
        assert_eq!(view.dtype(), Dtype::F32, "{key}");
        assert_eq!(tensor.shape, view.shape(), "{key}: shape");
        let want: Vec<u32> = view
            .data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let got: Vec<u32> = tensor.data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{key}: values");
    }
}

#[test]
fn state_dict_matches_reference() {
    check_against_reference("state_dict.pt");
}

#[test]
fn state_dict_protocol_4_matches_reference() {
    check_against_reference("state_dict_p4.pt");
}

#[test]
fn legacy_state_dict_matches_reference() {
    check_against_reference("legacy.pt");
}

#[test]
fn adapter_checkpoint_matches_reference() {
    check_against_reference("adapter_3.pth");
    let names = expected_names("adapter_3.pth");
    assert!(names
        .iter()
        .any(|n| n == "image_adapter.lora_adapters.0.conv_lora_blocks.1.conv_lora_A.weight"));
    assert!(names.iter().any(|n| n == "image_adapter.m_i_w.0.i_w"));
}

#[test]
fn pickled_module_matches_state_dict() {
    check_against_reference("full_module.pt");
}

#[test]
fn torchscript_matches_state_dict() {
    check_against_reference("torchscript.pt");
    let names = expected_names("torchscript.pt");
    for name in [
        "visual.conv1.weight",
        "visual.transformer.resblocks.0.attn.in_proj_weight",
        "token_embedding.weight",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }
}

#[test]
fn scripted_module_matches_state_dict() {
    check_against_reference("scripted.pt");
}

#[test]
fn skips_integer_and_bool_tensors() {
    let tensors = read_torch_checkpoint(&read("state_dict.pt")).expect("state_dict.pt");
    assert!(tensors
        .iter()
        .all(|(n, _)| n != "int64.index" && n != "bool.mask"));
    let scalar = tensors.iter().find(|(n, _)| n == "scalar").expect("scalar");
    assert_eq!(scalar.1.shape, Vec::<usize>::new());
    assert_eq!(scalar.1.data, vec![3.5]);
    let tied: Vec<_> = tensors
        .iter()
        .filter(|(n, _)| n.starts_with("tied."))
        .collect();
    assert_eq!(tied.len(), 2);
    assert_eq!(tied[0].1, tied[1].1);
}

fn expect_error(file: &str, what: &[&str]) -> PickleError {
    let err = match read_torch_checkpoint(&read(file)) {
        Ok(t) => panic!("{file}: read {} tensors from a corrupt file", t.len()),
        Err(e) => e,
    };
    let message = err.to_string();
    for w in what {
        assert!(
            message.contains(w),
            "{file}: message {message:?} should mention {w:?}"
        );
    }
    err
}

#[test]
fn truncated_file_is_an_error() {
    let err = expect_error("truncated.pt", &["zip"]);
    assert!(matches!(err, PickleError::Zip(_)), "{err:?}");
}

#[test]
fn garbage_is_an_error() {
    let err = expect_error("garbage.pt", &["not a PyTorch checkpoint"]);
    assert!(matches!(err, PickleError::NotAZip { .. }), "{err:?}");
    let err = read_torch_checkpoint(&[]).expect_err("empty input");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn inflated_size_is_an_error() {
    let err = expect_error(
        "tampered.pt",
        &["f32.weight", "past the end", "storage `0`"],
    );
    assert!(matches!(err, PickleError::BadTensor { .. }), "{err:?}");
}

#[test]
fn inflated_offset_is_an_error() {
    let err = expect_error(
        "tampered_offset.pt",
        &["offset_slice", "1073741824", "past the end"],
    );
    assert!(matches!(err, PickleError::BadTensor { .. }), "{err:?}");
}

#[test]
fn short_storage_is_an_error() {
    let err = expect_error(
        "short_storage.pt",
        &["storage `0`", "holds 10 bytes", "f32.weight"],
    );
    assert!(matches!(err, PickleError::BadStorage { .. }), "{err:?}");
}

#[test]
fn legacy_truncated_is_an_error() {
    let bytes = read("legacy.pt");
    let err = read_torch_checkpoint(&bytes[..bytes.len() - 7]).expect_err("cut legacy file");
    assert!(matches!(err, PickleError::LegacyFormat { .. }), "{err:?}");
    assert!(
        err.to_string().contains("torch.save(torch.load(f), f2)"),
        "{err}"
    );
}

/// Every prefix and many single-byte corruptions of real files: errors or tensors, never a panic.
#[test]
fn damaged_files_never_panic() {
    for file in ["state_dict.pt", "legacy.pt", "adapter_3.pth"] {
        let bytes = read(file);
        for len in 0..bytes.len() {
            let _ = read_torch_checkpoint(&bytes[..len]);
        }
        for pos in 0..bytes.len() {
            for flip in [0xffu8, 0x01, 0x80] {
                let mut damaged = bytes.clone();
                damaged[pos] ^= flip;
                let _ = read_torch_checkpoint(&damaged);
            }
        }
    }
}

/// Corrupting `data.pkl` in place (stored uncompressed, so the zip stays readable).
#[test]
fn damaged_pickles_never_panic() {
    let bytes = read("torchscript.pt");
    // The pickle starts with PROTO 2 followed by the GLOBAL of the root module.
    let start = bytes
        .windows(3)
        .position(|w| w == [0x80, 0x02, b'c'])
        .expect("data.pkl in torchscript.pt");
    for pos in (start..(start + 6538).min(bytes.len())).step_by(3) {
        for flip in [0xffu8, 0x04] {
            let mut damaged = bytes.clone();
            damaged[pos] ^= flip;
            let _ = read_torch_checkpoint(&damaged);
        }
    }
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
