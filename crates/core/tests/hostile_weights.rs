//! Weight files that lie: declared sizes larger than the file or than memory, shapes that do not
//! match their bytes, unknown manifest versions. Each is refused with an error that names the
//! problem (and the file), before anything is allocated at the declared size; and a text tower
//! smaller than the tokenizer, refused when it is asked to embed free text.

use std::collections::HashMap;

use acd_core::weights::bundle::{
    parse_manifest, read_shard, verify_files, BundleError, BUNDLE_VERSION,
};
use acd_core::weights::TensorStore;

/// A safetensors file from a JSON header and raw data (the header padded as the format wants).
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

#[test]
fn safetensors_with_lying_sizes_are_refused() {
    let good = safetensors(
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert_eq!(TensorStore::from_bytes(&good).unwrap().len(), 1);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        // header length far past the end of the file (and past any sane size)
        ("huge header length", {
            let mut b = good.clone();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        }),
        ("header length past the end", {
            let mut b = good.clone();
            let past = b.len() as u64 + 1;
            b[..8].copy_from_slice(&past.to_le_bytes());
            b
        }),
        // a shape of 2^80 elements over 8 bytes of data
        (
            "shape larger than the data",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#,
                &[0; 8],
            ),
        ),
        // offsets past the end of the data
        (
            "offsets past the data",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}"#,
                &[0; 8],
            ),
        ),
        (
            "shape and offsets disagree",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                &[0; 8],
            ),
        ),
        ("truncated data", good[..good.len() - 3].to_vec()),
    ];
    for (what, bytes) in cases {
        let err = TensorStore::from_safetensors(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            err.to_string().starts_with("not a safetensors file"),
            "{what}: {err}"
        );
        assert!(TensorStore::from_bytes(&bytes).is_err(), "{what}");
        let err = read_shard(
            "weights-00007.safetensors",
            &bytes,
            &mut TensorStore::default(),
        )
        .err()
        .unwrap_or_else(|| panic!("{what}: shard accepted"));
        assert!(
            err.to_string().contains("weights-00007.safetensors"),
            "{what}: {err}"
        );
    }
}

#[test]
fn int8_shards_whose_scales_do_not_match_name_the_file() {
    let int8 = |scales: usize| {
        let data: Vec<u8> = (0..scales * 4).map(|_| 0).collect();
        let header = format!(
            r#"{{"a":{{"dtype":"I8","shape":[3,2],"data_offsets":[0,6]}},"__scales__":{{"dtype":"F32","shape":[{scales}],"data_offsets":[6,{}]}}}}"#,
            6 + 4 * scales
        );
        safetensors(&header, &[vec![1u8; 6], data].concat())
    };
    let mut store = TensorStore::default();
    read_shard("w.safetensors", &int8(3), &mut store).unwrap();
    assert_eq!(store["a"].shape, [3, 2]);
    for n in [2, 4] {
        let err = read_shard(
            "weights-00002.safetensors",
            &int8(n),
            &mut TensorStore::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("bundle file weights-00002.safetensors:") && err.contains("__scales__"),
            "{err}"
        );
    }
}

fn manifest_json(version: serde_json::Value, bytes: u64) -> String {
    let cfg = serde_json::to_value(acd_core::config::presets::tiny(32)).unwrap();
    serde_json::json!({
        "format": "acd-clip-bundle", "version": version, "name": "t", "description": "",
        "trained_on": null, "untrained": true, "config": cfg, "precision": "f32", "quantization": "f32",
        "categories": [], "has_text_tower": false,
        "files": [{"file": "weights-00000.safetensors", "bytes": bytes, "sha256": "00".repeat(32)}]
    })
    .to_string()
}

#[test]
fn manifests_with_other_versions_are_refused_with_the_version_named() {
    assert!(parse_manifest(&manifest_json(BUNDLE_VERSION.into(), 8)).is_ok());
    for (v, want) in [
        (serde_json::json!(2), "bundle version 2 is not supported"),
        (serde_json::json!(0), "bundle version 0 is not supported"),
        // would wrap to 1 in 32 bits
        (
            serde_json::json!(4294967297u64),
            "bundle version 4294967297 is not supported",
        ),
        (
            serde_json::json!(1.5),
            "bundle version 1.5 is not supported",
        ),
        (serde_json::json!("1"), "`version` is \"1\", not a number"),
    ] {
        let err = parse_manifest(&manifest_json(v, 8))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    let mut no_version: serde_json::Value =
        serde_json::from_str(&manifest_json(1.into(), 8)).unwrap();
    no_version.as_object_mut().unwrap().remove("version");
    let err = parse_manifest(&no_version.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `version`"), "{err}");
}

#[test]
fn a_declared_size_the_file_does_not_have_names_the_file_before_hashing() {
    // A size no shard can have is refused with the manifest, before any file is read.
    let err = parse_manifest(&manifest_json(1.into(), u64::MAX))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "weights-00000.safetensors declares 18446744073709551615 bytes, over the limit"
        ),
        "{err}"
    );
    let m = parse_manifest(&manifest_json(1.into(), 16)).unwrap();
    let files = HashMap::from([("weights-00000.safetensors".to_string(), vec![0u8; 8])]);
    match verify_files(&m, &files) {
        Err(BundleError::Size {
            file,
            expected,
            found,
        }) => {
            assert_eq!(
                (file.as_str(), expected, found),
                ("weights-00000.safetensors", 16, 8)
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A model whose text tower is smaller than CLIP's tokenizer (a hostile or mistaken bundle: its
/// weights and config agree, so loading accepts it) refuses free text with an error naming the
/// sizes, instead of indexing past its embedding tables (a panic; a trap in the page).
#[test]
fn a_text_tower_smaller_than_the_tokenizer_refuses_free_text() {
    use acd_core::{AcdClip, Detector};
    type B = burn::backend::NdArray<f32>;
    let mut cfg = acd_core::config::presets::tiny(32);
    cfg.clip.text.vocab_size = 1000;
    cfg.clip.text.context_length = 16;
    let device = Default::default();
    let model = AcdClip::<B>::new(&cfg, &device);
    let mut det = Detector::new(model, cfg, device);
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(32, 32, image::Rgb([120, 90, 60]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let err = det
        .detect(&png, "a scratched metal plate")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("vocabulary size 1000") && err.contains("context length 16"),
        "{err}"
    );
}
