//! Hugging Face `CLIPModel` import against `transformers` itself (scripts/make_hf_reference.py):
//! a tiny HF checkpoint (HF key names, separate q/k/v, `[E, D]` projections, float16) goes
//! through the remap table and q/k/v packing, and our towers must reproduce HF's
//! `get_image_features`, `get_text_features` and encoder hidden states within 1e-4 of each
//! tensor's max. A checkpoint missing one of q/k/v must fail naming the packed key.

use acd_core::clip::text::TextTower;
use acd_core::clip::vision::VisionTower;
use acd_core::config::ClipConfig;
use acd_core::model::TokenBatch;
use acd_core::weights::infer::infer_clip_config;
use acd_core::weights::load::{load_text, load_vision};
use acd_core::weights::raw::RawTensor;
use acd_core::weights::TensorStore;
use acd_core::Activation;
use acd_fixture::official::{compare, Comparison};
use acd_parity::reference_dir;
use burn::tensor::{Int, Tensor, TensorData};
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

type B = burn::backend::NdArray<f32>;

const IMAGE_SIZE: usize = 64;
/// HF vision tower: hidden 64, 4 heads.
const VISION_HEAD_WIDTH: usize = 16;

fn dir() -> std::path::PathBuf {
    reference_dir().join("hf_tiny_clip")
}

fn checkpoint_bytes() -> Vec<u8> {
    std::fs::read(dir().join("model.safetensors")).unwrap()
}

fn hf_config() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir().join("config.json")).unwrap()).unwrap()
}

struct Reference {
    floats: std::collections::BTreeMap<String, RawTensor>,
    input_ids: Vec<Vec<u32>>,
}

fn load_reference() -> Reference {
    let bytes = std::fs::read(dir().join("reference.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut floats = std::collections::BTreeMap::new();
    let mut input_ids = Vec::new();
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
            Dtype::I32 if n == "input.input_ids" => {
                let ids: Vec<u32> = v
                    .data()
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as u32)
                    .collect();
                input_ids = ids.chunks(v.shape()[1]).map(<[u32]>::to_vec).collect();
            }
            _ => {}
        }
    }
    assert_eq!(input_ids.len(), 3, "reference holds 3 tokenized prompts");
    Reference { floats, input_ids }
}

/// The config: shapes inferred from the imported store, head counts from HF's config.json
/// (heads are not stored in weights; the text tower's heads are 4 wide, not 16).
fn clip_config(store: &TensorStore) -> ClipConfig {
    let hf = hf_config();
    let mut cfg =
        infer_clip_config(store, IMAGE_SIZE, Activation::QuickGelu, VISION_HEAD_WIDTH).unwrap();
    let v = &hf["vision_config"];
    let t = &hf["text_config"];
    let u = |x: &serde_json::Value| x.as_u64().unwrap() as usize;
    assert_eq!(cfg.vision.width, u(&v["hidden_size"]));
    assert_eq!(cfg.vision.layers, u(&v["num_hidden_layers"]));
    assert_eq!(cfg.vision.heads, u(&v["num_attention_heads"]));
    assert_eq!(cfg.vision.patch_size, u(&v["patch_size"]));
    assert_eq!(cfg.vision.mlp_hidden, u(&v["intermediate_size"]));
    assert_eq!(cfg.text.width, u(&t["hidden_size"]));
    assert_eq!(cfg.text.layers, u(&t["num_hidden_layers"]));
    assert_eq!(cfg.text.mlp_hidden, u(&t["intermediate_size"]));
    assert_eq!(cfg.text.vocab_size, u(&t["vocab_size"]));
    assert_eq!(cfg.text.context_length, u(&t["max_position_embeddings"]));
    assert_eq!(cfg.embed_dim, u(&hf["projection_dim"]));
    cfg.text.heads = u(&t["num_attention_heads"]);
    cfg
}

fn raw<const D: usize>(t: &Tensor<B, D>) -> RawTensor {
    RawTensor::new(t.dims().to_vec(), t.to_data().to_vec::<f32>().unwrap())
}

#[test]
fn hf_clip_checkpoint_matches_transformers() {
    let r = load_reference();
    let mut store = TensorStore::from_safetensors(&checkpoint_bytes())
        .unwrap()
        .finish();
    // Every HF q/k/v triple was packed (and nothing HF-named is left over).
    let unpacked = |n: &&String| {
        [".attn.q_proj.", ".attn.k_proj.", ".attn.v_proj."]
            .iter()
            .any(|p| n.contains(p))
    };
    assert_eq!(
        store.keys().filter(unpacked).count(),
        0,
        "unpacked q/k/v left: {:?}",
        store.keys().filter(unpacked).collect::<Vec<_>>()
    );
    assert_eq!(
        store
            .keys()
            .filter(|n| n.ends_with(".attn.in_proj_weight") || n.ends_with(".attn.in_proj_bias"))
            .count(),
        2 * (3 + 2),
        "packed in_proj weight + bias for 3 vision and 2 text layers"
    );
    assert!(
        store
            .keys()
            .all(|n| !n.starts_with("vision_model.") && !n.starts_with("text_model.")),
        "HF names left after the remap: {:?}",
        store.keys().collect::<Vec<_>>()
    );
    let cfg = clip_config(&store);
    let device = Default::default();
    let vision: VisionTower<B> = load_vision(&mut store, &cfg, &device).unwrap();
    let text: TextTower<B> = load_text(&mut store, &cfg, &device).unwrap();
    // Only `logit_scale` (unused by the towers) may remain.
    assert_eq!(
        store.keys().cloned().collect::<Vec<_>>(),
        vec!["logit_scale".to_string()],
        "checkpoint tensors the loaders did not consume"
    );

    let mut out: Vec<Comparison> = Vec::new();
    let px = &r.floats["input.pixel_values"];
    let images =
        Tensor::<B, 4>::from_data(TensorData::new(px.data.clone(), px.shape.clone()), &device);
    out.push(compare(
        "image_embeds",
        &raw(&vision.encode_image(images.clone())),
        &r.floats["image_embeds"],
        None,
    ));

    // HF hidden_states[0] = encoder input (after pre_layrnorm), [k] = output of layer k-1.
    let mut x = vision.ln_pre.forward(vision.embed(images));
    let mut checked = 0;
    for k in 0..=vision.blocks.len() {
        if k > 0 {
            x = vision.blocks[k - 1].forward(x, false);
        }
        let key = format!("vision.hidden_states.{k}");
        if let Some(reference) = r.floats.get(&key) {
            out.push(compare(&key, &raw(&x), reference, None));
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "vision hidden states 0, 1 and last");

    let batch = TokenBatch::new(&r.input_ids);
    out.push(compare(
        "text_embeds",
        &raw(&text.encode_text(batch.to_tensor(&device), &batch.eot)),
        &r.floats["text_embeds"],
        None,
    ));

    // Last text encoder layer, all 77 positions of all prompts (causal mask only).
    let ctx = r.input_ids[0].len();
    let ids: Vec<i64> = r.input_ids.iter().flatten().map(|&v| v as i64).collect();
    let tokens =
        Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [r.input_ids.len(), ctx]), &device);
    let mut x = text.embed(tokens);
    for block in &text.blocks {
        x = block.forward(x, true);
    }
    let key = format!("text.hidden_states.{}", text.blocks.len());
    out.push(compare(&key, &raw(&x), &r.floats[&key], None));

    for c in &out {
        eprintln!(
            "hf_tiny_clip: {:<24} max_abs {:.3e} max_rel {:.3e} tol {:.3e} {}",
            c.name,
            c.max_abs,
            c.max_rel,
            c.tolerance,
            if c.passed() { "ok" } else { "FAIL" }
        );
    }
    assert_eq!(out.len(), 6);
    assert!(
        out.iter().all(Comparison::passed),
        "HF CLIP import differs from transformers"
    );
}

/// Drops the HF key `drop` from the checkpoint (re-serialized, so the real import path runs).
fn checkpoint_without(drop: &str) -> Vec<u8> {
    let bytes = checkpoint_bytes();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != drop)
        .collect();
    assert_eq!(kept.len() + 1, st.len(), "`{drop}` is in the checkpoint");
    safetensors::serialize(kept, None).unwrap()
}

#[test]
fn hf_checkpoint_missing_k_proj_names_packed_key() {
    // The config of the complete checkpoint (a broken one cannot be trusted to infer it).
    let cfg = clip_config(
        &TensorStore::from_safetensors(&checkpoint_bytes())
            .unwrap()
            .finish(),
    );
    let mut store = TensorStore::from_safetensors(&checkpoint_without(
        "vision_model.encoder.layers.1.self_attn.k_proj.weight",
    ))
    .unwrap()
    .finish();
    // Layer 1's weights cannot be packed; its biases (all three present) still are.
    assert!(!store.contains_key("visual.transformer.resblocks.1.attn.in_proj_weight"));
    assert!(store.contains_key("visual.transformer.resblocks.1.attn.in_proj_bias"));
    let device = Default::default();
    let err = match load_vision::<B>(&mut store, &cfg, &device) {
        Ok(_) => panic!("loading a checkpoint without layer 1's k_proj.weight succeeded"),
        Err(e) => e.to_string(),
    };
    eprintln!("missing k_proj: {err}");
    assert_eq!(
        err,
        "missing weight `visual.transformer.resblocks.1.attn.in_proj_weight` (expected shape [192, 64]) \
         — the checkpoint has only q_proj, v_proj of this layer's separate q/k/v projections"
    );
    // With the config inferred from the broken checkpoint itself, the depth still counts layer 1
    // and beyond, so loading fails instead of silently building a shallower tower.
    let fresh = TensorStore::from_safetensors(&checkpoint_without(
        "vision_model.encoder.layers.1.self_attn.k_proj.weight",
    ))
    .unwrap()
    .finish();
    let inferred = infer_clip_config(
        &fresh,
        cfg.vision.image_size,
        acd_core::Activation::QuickGelu,
        16,
    )
    .unwrap();
    assert_eq!(inferred.vision.layers, cfg.vision.layers);
}
