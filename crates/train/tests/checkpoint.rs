//! A checkpoint written by the trainer loads back (through the same loader as the official
//! `adapter_<epoch>.pth` keys) into a model with identical outputs, with and without the backbone.

use acd_core::config::presets;
use acd_core::weights::checkpoint::CheckpointMeta;
use acd_core::weights::save::checkpoint_store;
use acd_core::weights::TensorStore;
use acd_core::{AcdClip, Detector};
use acd_train::checkpoint::{load_checkpoint, save_checkpoint};
use burn::backend::NdArray;

type B = NdArray<f32>;

fn detect(model: AcdClip<B>, cfg: &acd_core::AcdClipConfig) -> (f32, Vec<f32>) {
    let s = cfg.clip.vision.image_size;
    let input: Vec<f32> = (0..3 * s * s)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let mut d = Detector::new(model, cfg.clone(), Default::default());
    let det = d.detect_input(input, "wood").expect("detects");
    (det.score, det.map)
}

#[test]
fn checkpoints_round_trip_with_and_without_backbone() {
    let mut cfg = presets::tiny(64);
    cfg.clip.vision.patch_size = 8;
    let dev = Default::default();
    let model = AcdClip::<B>::new(&cfg, &dev);
    let dir = std::env::temp_dir().join(format!("acd-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (score, map) = detect(model.clone(), &cfg);

    // Backbone inside.
    let meta = CheckpointMeta {
        config: cfg.clone(),
        epoch: 3,
        with_backbone: true,
        training: serde_json::json!({"note": "test"}),
    };
    let path = dir.join("full.safetensors");
    save_checkpoint(&path, &model, &meta).unwrap();
    let (loaded, m) = load_checkpoint::<B>(&path, None, &dev).unwrap();
    assert_eq!(m, meta);
    let (s2, map2) = detect(loaded, &cfg);
    assert_eq!(s2, score);
    assert_eq!(map2, map);

    // Adapters only: the CLIP weights come separately, as with the official checkpoints.
    let meta = CheckpointMeta {
        with_backbone: false,
        ..meta
    };
    let path = dir.join("adapters.safetensors");
    save_checkpoint(&path, &model, &meta).unwrap();
    let err = load_checkpoint::<B>(&path, None, &dev)
        .err()
        .expect("needs CLIP");
    assert!(err.to_string().contains("CLIP"), "{err}");
    let mut clip = TensorStore::default();
    for (k, v) in checkpoint_store(&model, true).unwrap().iter() {
        if !k.starts_with("image_adapter.") && !k.starts_with("text_adapter.") {
            clip.insert(k.clone(), v.clone());
        }
    }
    let (loaded, _) = load_checkpoint::<B>(&path, Some(&clip), &dev).unwrap();
    let (s3, map3) = detect(loaded, &cfg);
    assert_eq!(s3, score);
    assert_eq!(map3, map);
    // The adapters-only file holds the official trainable keys.
    let bytes = std::fs::read(&path).unwrap();
    let store = TensorStore::from_bytes(&bytes).unwrap();
    assert!(store.contains_key("image_adapter.lora_adapters.0.fusion_conv.weight"));
    assert!(
        store.contains_key("image_adapter.lora_adapters.1.conv_lora_blocks.1.conv_lora_B.weight")
    );
    assert!(!store.contains_key("visual.conv1.weight"));
    std::fs::remove_dir_all(&dir).ok();
}
