//! `acd check-fixture` on the official-code fixture (config A), on the CPU backend: every tensor of
//! io.safetensors is compared (or listed as not applicable) and all pass.

use acd_fixture::official::read_fixture;
use acd_parity::backends::fixture_check_passes;
use acd_parity::official_fixture_dir;

type Cpu = burn::backend::NdArray<f32>;

#[test]
fn official_fixture_passes_on_cpu() {
    let dir = official_fixture_dir();
    let lines = fixture_check_passes::<Cpu>("ndarray", &Default::default());

    // Every io tensor appears, and only labels may be "not applicable".
    let io = std::fs::read(dir.join("io.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&io).unwrap();
    for name in st.names() {
        let line = lines
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| panic!("{name} not reported"));
        if let Some(reason) = &line.not_applicable {
            assert_eq!(name, "input.labels", "{name} was not compared: {reason}");
        }
    }
    // The inference path (folded adapters, one difference map) and the end-to-end path from PNG files
    // are checked too.
    for extra in [
        "fast.output.anomaly_map",
        "fast.output.image_score_final",
        "e2e.output.image_score_final",
    ] {
        assert!(
            lines.iter().any(|c| c.name == extra && c.passed()),
            "{extra} missing or failed"
        );
    }
}

/// A missing key or a wrong shape is an error that names the key (never a panic, never a
/// silently wrong model).
#[test]
fn missing_or_misshapen_weights_name_the_key() {
    use acd_core::weights::load::load_acd_clip;
    use acd_core::weights::raw::RawTensor;
    use acd_core::weights::TensorStore;
    use acd_fixture::official::FixtureConfig;

    let files = read_fixture(&official_fixture_dir()).unwrap();
    let store = TensorStore::from_safetensors(&files.weights)
        .unwrap()
        .finish();
    let cfg = FixtureConfig::parse(&files.config_json, &store)
        .unwrap()
        .model;
    let device = Default::default();

    // Rebuild the store without one key.
    let without = |skip: &str| {
        let mut s = TensorStore::default();
        for name in store.keys().filter(|n| *n != skip) {
            s.insert(name.clone(), store.get(name).unwrap().clone());
        }
        s
    };
    let key = "image_adapter.lora_adapters.2.conv_lora_blocks.1.conv_lora_B.weight";
    let err = load_acd_clip::<Cpu>(&mut without(key), &cfg, true, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains(key) && err.contains("missing"), "{err}");

    let key = "visual.transformer.resblocks.7.mlp.c_fc.weight";
    let mut bad = without(key);
    bad.insert(
        key.into(),
        RawTensor::new(vec![255, 64], vec![0.0; 255 * 64]),
    );
    let err = load_acd_clip::<Cpu>(&mut bad, &cfg, true, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(key) && err.contains("[255, 64]") && err.contains("[256, 64]"),
        "{err}"
    );
}
