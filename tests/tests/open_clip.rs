//! The CLIP towers against open_clip (scripts/make_reference.py): ViT-B/16 (QuickGELU) and a
//! reduced-width ViT-L/14 (erf GELU), weights generated on both sides from the same counter hash,
//! `encode_image`, `encode_text` and per-layer hidden states within 1e-4 of each tensor's max.

use acd_core::clip::text::TextTower;
use acd_core::clip::vision::VisionTower;
use acd_core::model::TokenBatch;
use acd_core::weights::infer::infer_clip_config;
use acd_core::weights::load::{load_text, load_vision};
use acd_core::weights::raw::RawTensor;
use acd_core::weights::TensorStore;
use acd_core::Activation;
use acd_fixture::official::{compare, Comparison};
use acd_parity::reference_dir;
use acd_parity::synthetic_weights::{synthetic_tensor, SEED};
use burn::tensor::{Int, Tensor, TensorData};
use safetensors::tensor::Dtype;

type B = burn::backend::NdArray<f32>;

struct Reference {
    json: serde_json::Value,
    floats: std::collections::BTreeMap<String, RawTensor>,
    tokens: Vec<Vec<u32>>,
}

fn load_reference(name: &str) -> Reference {
    let dir = reference_dir();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut floats = std::collections::BTreeMap::new();
    let mut tokens = Vec::new();
    for (n, v) in st.tensors() {
        match v.dtype() {
            Dtype::F32 => {
                let d = v
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                floats.insert(n, RawTensor::new(v.shape().to_vec(), d));
            }
            Dtype::I32 if n == "input.tokens" => {
                let ids: Vec<u32> = v
                    .data()
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as u32)
                    .collect();
                tokens = ids.chunks(v.shape()[1]).map(<[u32]>::to_vec).collect();
            }
            _ => {}
        }
    }
    Reference {
        json,
        floats,
        tokens,
    }
}

fn synthetic_store(json: &serde_json::Value) -> TensorStore {
    let mut store = TensorStore::default();
    for entry in json["state_dict"].as_array().unwrap() {
        let name = entry[0].as_str().unwrap();
        let shape: Vec<usize> = entry[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let data = synthetic_tensor(name, &shape, SEED);
        store.insert(name.into(), RawTensor::new(shape, data));
    }
    store
}

fn raw<const D: usize>(t: &Tensor<B, D>) -> RawTensor {
    RawTensor::new(t.dims().to_vec(), t.to_data().to_vec::<f32>().unwrap())
}

fn check_model(name: &str) -> Vec<Comparison> {
    let r = load_reference(name);
    let cfg_json = &r.json["config"];
    let activation = if cfg_json["activation"] == "quick_gelu" {
        Activation::QuickGelu
    } else {
        Activation::Gelu
    };
    let image_size = cfg_json["vision"]["image_size"].as_u64().unwrap() as usize;
    let mut store = synthetic_store(&r.json);
    let cfg = infer_clip_config(&store, image_size, activation, 64).unwrap();
    assert_eq!(
        cfg.vision.heads as u64,
        cfg_json["vision"]["heads"].as_u64().unwrap(),
        "head count inferred from width / 64"
    );
    assert_eq!(
        cfg.text.layers as u64,
        cfg_json["text"]["layers"].as_u64().unwrap()
    );
    let device = Default::default();
    let vision: VisionTower<B> = load_vision(&mut store, &cfg, &device).unwrap();
    let text: TextTower<B> = load_text(&mut store, &cfg, &device).unwrap();

    let mut out = Vec::new();
    let img = &r.floats["input.images"];
    let images = Tensor::<B, 4>::from_data(
        TensorData::new(img.data.clone(), img.shape.clone()),
        &device,
    );
    out.push(compare(
        "encode_image",
        &raw(&vision.encode_image(images.clone())),
        &r.floats["encode_image"],
        None,
    ));

    // Per-layer vision states (image 0).
    let first = images.narrow(0, 0, 1);
    let mut x = vision.ln_pre.forward(vision.embed(first));
    out.push(compare(
        "vision.ln_pre",
        &raw(&x),
        &r.floats["vision.ln_pre"],
        None,
    ));
    for (k, block) in vision.blocks.iter().enumerate() {
        x = block.forward(x, false);
        let key = format!("vision.block{k}.out");
        if let Some(reference) = r.floats.get(&key) {
            out.push(compare(&key, &raw(&x), reference, None));
        }
    }

    let batch = TokenBatch::new(&r.tokens);
    out.push(compare(
        "encode_text",
        &raw(&text.encode_text(batch.to_tensor(&device), &batch.eot)),
        &r.floats["encode_text"],
        None,
    ));

    // Per-layer text states (prompt 0, all 77 positions).
    let ids: Vec<i64> = r.tokens[0].iter().map(|&v| v as i64).collect();
    let n = ids.len();
    let tokens = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, n]), &device);
    let mut x = text.embed(tokens);
    out.push(compare(
        "text.embed",
        &raw(&x),
        &r.floats["text.embed"],
        None,
    ));
    for (k, block) in text.blocks.iter().enumerate() {
        x = block.forward(x, true);
        let key = format!("text.block{k}.out");
        if let Some(reference) = r.floats.get(&key) {
            out.push(compare(&key, &raw(&x), reference, None));
        }
    }
    out
}

fn assert_all_pass(name: &str, lines: &[Comparison]) {
    for c in lines {
        eprintln!(
            "{name}: {:<20} max_abs {:.3e} max_rel {:.3e} {}",
            c.name,
            c.max_abs,
            c.max_rel,
            if c.passed() { "ok" } else { "FAIL" }
        );
    }
    assert!(
        lines.len() >= 10,
        "{name}: only {} comparisons",
        lines.len()
    );
    assert!(
        lines.iter().all(Comparison::passed),
        "{name}: parity with open_clip failed"
    );
}

#[test]
fn vit_b16_quickgelu_matches_open_clip() {
    assert_all_pass("ViT-B/16", &check_model("vit_b16_quickgelu"));
}

#[test]
fn vit_l14_reduced_matches_open_clip() {
    assert_all_pass("ViT-L/14 (reduced)", &check_model("vit_l14_reduced"));
}
