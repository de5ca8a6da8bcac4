//! The name tables, as data. Checkpoints are read under open_clip state-dict names (which the
//! official ACD-CLIP code also uses; its adapters keep the official keys under `image_adapter.` /
//! `text_adapter.`): `FROM_CHECKPOINT` translates the other layouts (training wrappers, Hugging
//! Face `CLIPModel`) to them. `FROM_MODULE` gives each of the model's parameters, by its Burn
//! module path, its checkpoint name, and `Layout` the one layout change between the two;
//! `walk_params` applies them to every parameter of a module for the loader and the saver, so
//! neither lists a parameter.
//! OpenAI's TorchScript `ViT-*.pt` already uses open_clip names.

use std::sync::OnceLock;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use regex::Regex;

use super::raw::RawTensor;
use super::store::WeightError;

/// Checkpoint key → open_clip name (regex, replacement; applied in order). Hugging Face's split
/// q/k/v projections are packed into `in_proj_*` by the store after reading.
#[rustfmt::skip]
pub const FROM_CHECKPOINT: &[(&str, &str)] = &[
    (r"^(state_dict|model)\.", ""),
    (r"^module\.", ""),
    (r"^vision_model\.embeddings\.patch_embedding\.weight$", "visual.conv1.weight"),
    (r"^vision_model\.embeddings\.class_embedding$", "visual.class_embedding"),
    (r"^vision_model\.embeddings\.position_embedding\.weight$", "visual.positional_embedding"),
    (r"^vision_model\.pre_layrnorm\.", "visual.ln_pre."),
    (r"^vision_model\.post_layernorm\.", "visual.ln_post."),
    (r"^vision_model\.encoder\.layers\.(\d+)\.", "visual.transformer.resblocks.$1."),
    (r"^text_model\.embeddings\.token_embedding\.weight$", "token_embedding.weight"),
    (r"^text_model\.embeddings\.position_embedding\.weight$", "positional_embedding"),
    (r"^text_model\.encoder\.layers\.(\d+)\.", "transformer.resblocks.$1."),
    (r"^text_model\.final_layer_norm\.", "ln_final."),
    (r"\.layer_norm1\.", ".ln_1."),
    (r"\.layer_norm2\.", ".ln_2."),
    (r"\.mlp\.fc1\.", ".mlp.c_fc."),
    (r"\.mlp\.fc2\.", ".mlp.c_proj."),
    (r"\.self_attn\.out_proj\.", ".attn.out_proj."),
    (r"\.self_attn\.(q|k|v)_proj\.", ".attn.${1}_proj."),
    // Hugging Face stores the projections as Linear weights `[E, D]`, open_clip as `[D, E]`.
    (r"^visual_projection\.weight$", "visual.proj"),
    (r"^text_projection\.weight$", "text_projection"),
];

/// The open_clip names whose Hugging Face source is stored transposed.
const TRANSPOSED_FROM: &[&str] = &["visual_projection.weight", "text_projection.weight"];

/// Burn module path (from `AcdClip`) → checkpoint name (regex, replacement; applied in order).
#[rustfmt::skip]
pub const FROM_MODULE: &[(&str, &str)] = &[
    (r"^vision\.blocks\.", "visual.transformer.resblocks."),
    (r"^vision\.conv1$", "visual.conv1.weight"),
    (r"^vision\.", "visual."),
    (r"^text\.blocks\.", "transformer.resblocks."),
    (r"^text\.token_embedding$", "token_embedding.weight"),
    (r"^text\.", ""),
    (r"\.in_proj\.(weight|bias)$", ".in_proj_$1"),
    (r"_proj\.(\d+)\.fc(\d)\.", "_proj.$1.fc.$2."),
    (r"\.vision_text_gate\.(\d+)\.fc(\d)\.", ".vision_text_gate.$1.$2."),
    (r"\.conv_lora_a$", ".conv_lora_A.weight"),
    (r"\.conv_lora_b$", ".conv_lora_B.weight"),
    (r"\.lora_a$", ".lora_A"),
    (r"\.lora_b$", ".lora_B"),
    (r"\.fusion$", ".fusion_conv.weight"),
    (r"\.m_([it])_w\.(\d+)$", ".m_${1}_w.$2.i_w"),
    (r"\.folded\.(\d+)\.(down|up)$", ".folded.$1.$2.weight"),
    (r"\.gamma$", ".weight"),
    (r"\.beta$", ".bias"),
];

/// The parameters only the plain CLIP embedding reads (ACD-CLIP does not), by checkpoint name: a
/// checkpoint for ACD-CLIP may lack them, and an ACD-CLIP bundle leaves them out.
#[rustfmt::skip]
pub const CLIP_HEADS: &[&str] = &[
    "visual.ln_post.weight", "visual.ln_post.bias", "visual.proj",
    "ln_final.weight", "ln_final.bias", "text_projection",
];

/// Whether a checkpoint name belongs to the ACD-CLIP adapters (the official `adapter_<epoch>.pth`).
pub fn is_adapter(name: &str) -> bool {
    name.starts_with("image_adapter.") || name.starts_with("text_adapter.")
}

type Compiled = Vec<(Regex, &'static str)>;

fn compile(table: &'static [(&'static str, &'static str)]) -> Compiled {
    let re = |p| Regex::new(p).expect("the name tables' patterns are valid");
    table.iter().map(|(p, r)| (re(p), *r)).collect()
}

fn rename(table: &[(Regex, &'static str)], name: &str) -> String {
    let step = |name: String, (re, to): &(Regex, &str)| re.replace(&name, *to).into_owned();
    table.iter().fold(name.to_string(), step)
}

/// The open_clip name of a checkpoint key, and whether its value is stored transposed.
pub fn canonical_name(name: &str) -> (String, bool) {
    static TABLE: OnceLock<Compiled> = OnceLock::new();
    let table = TABLE.get_or_init(|| compile(FROM_CHECKPOINT));
    // The first two rules strip training wrappers; what is left says whether HF transposed it.
    let unwrapped = rename(&table[..2], name);
    let transposed = TRANSPOSED_FROM.contains(&unwrapped.as_str());
    (rename(table, name), transposed)
}

/// The checkpoint name of the parameter at `module_path`.
pub fn checkpoint_name(module_path: &str) -> String {
    static TABLE: OnceLock<Compiled> = OnceLock::new();
    rename(TABLE.get_or_init(|| compile(FROM_MODULE)), module_path)
}

/// What a walk does with one parameter, given its checkpoint name, its layout, its shape in the
/// model and a reader of its value: a new value (in the model's layout) or none to keep it.
pub type ParamVisit<'a> = dyn FnMut(
        &str,
        Layout,
        &[usize],
        &dyn Fn() -> Result<RawTensor, String>,
    ) -> Result<Option<RawTensor>, WeightError>
    + 'a;

/// Walks every float parameter of `module` (at `root`, its path in `AcdClip`; empty for the model)
/// with its checkpoint name and layout: the loader and the saver both go through here. The first
/// error stops the walk.
pub fn walk_params<B: Backend, M: Module<B>>(
    module: M,
    root: &str,
    visit: &mut ParamVisit,
) -> Result<M, WeightError> {
    struct Walk<'v, 'a> {
        /// (field name, the Burn type holding it) from the model down to the parameter.
        path: Vec<(String, String)>,
        visit: &'v mut ParamVisit<'a>,
        error: Option<WeightError>,
    }
    impl<B: Backend> ModuleMapper<B> for Walk<'_, '_> {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.path.push((name.into(), container_type.into()));
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            if self.error.is_some() {
                return param;
            }
            let names: Vec<&str> = self.path.iter().map(|(name, _)| name.as_str()).collect();
            let path = names.join(".");
            let layout = Layout::of(&path, self.path.last().map_or("", |(_, c)| c.as_str()));
            let shape = param.lazy_shape().to_vec();
            let read = || RawTensor::read_back(param.val());
            match (self.visit)(&checkpoint_name(&path), layout, &shape, &read) {
                Ok(Some(raw)) => {
                    let (id, device) = (param.id, param.lazy_device());
                    let value = Tensor::from_data(TensorData::new(raw.data, shape), &device);
                    param.transform_for_load(value, id)
                }
                Ok(None) => param,
                Err(e) => {
                    self.error = Some(e);
                    param
                }
            }
        }
    }
    let root = root.split('.').filter(|s| !s.is_empty());
    let mut walk = Walk {
        path: root.map(|name| (name.into(), String::new())).collect(),
        visit,
        error: None,
    };
    let module = module.map(&mut walk);
    walk.error.map_or(Ok(module), Err)
}

/// How a parameter's checkpoint layout differs from the model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    Same,
    /// A Linear weight: PyTorch `[out, in]`, the model `[in, out]` (so `y = x·W`).
    Transposed,
    /// The 1×1 fusion conv: PyTorch `[D, n·D, 1, 1]`, the model the matrix `[n·D, D]`.
    Conv1x1,
}

impl Layout {
    /// `container`: the Burn type holding the parameter (e.g. `Struct:Linear`).
    pub fn of(module_path: &str, container: &str) -> Layout {
        let folded_projection = module_path.contains(".folded.")
            && (module_path.ends_with(".down") || module_path.ends_with(".up"));
        if folded_projection || (container == "Struct:Linear" && module_path.ends_with(".weight")) {
            Layout::Transposed
        } else if module_path.ends_with(".fusion") {
            Layout::Conv1x1
        } else {
            Layout::Same
        }
    }

    pub fn checkpoint_shape(self, module_shape: &[usize]) -> Vec<usize> {
        match (self, module_shape) {
            (Layout::Transposed, [r, c]) => vec![*c, *r],
            (Layout::Conv1x1, [r, c]) => vec![*c, *r, 1, 1],
            _ => module_shape.to_vec(),
        }
    }

    /// A checkpoint tensor (of `checkpoint_shape`) in the model's layout.
    pub fn to_module(self, t: RawTensor) -> RawTensor {
        if self == Layout::Same {
            return t;
        }
        let matrix = RawTensor::new(t.shape[..2].to_vec(), t.data);
        matrix.transposed().expect("a matrix")
    }

    /// A model tensor in the checkpoint's layout: the same transpose, reshaped.
    pub fn to_checkpoint(self, t: RawTensor) -> RawTensor {
        let shape = self.checkpoint_shape(&t.shape);
        RawTensor::new(shape, self.to_module(t).data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_become_open_clip_names() {
        #[rustfmt::skip]
        let cases = [
            ("vision_model.encoder.layers.3.self_attn.q_proj.weight", "visual.transformer.resblocks.3.attn.q_proj.weight"),
            ("vision_model.encoder.layers.11.mlp.fc2.bias", "visual.transformer.resblocks.11.mlp.c_proj.bias"),
            ("text_model.encoder.layers.0.layer_norm2.weight", "transformer.resblocks.0.ln_2.weight"),
            ("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"),
            ("text_model.final_layer_norm.weight", "ln_final.weight"),
            ("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"),
            ("state_dict.module.visual.conv1.weight", "visual.conv1.weight"),
            ("image_adapter.m_i_w.0.i_w", "image_adapter.m_i_w.0.i_w"),
        ];
        for (from, to) in cases {
            assert_eq!(canonical_name(from), (to.to_string(), false), "{from}");
        }
        assert_eq!(
            canonical_name("module.visual_projection.weight"),
            ("visual.proj".into(), true)
        );
    }

    /// Module paths against the official checkpoint keys (the official `adapter_<epoch>.pth` and
    /// open_clip's state dict), written out by hand.
    #[test]
    fn module_paths_become_official_names() {
        #[rustfmt::skip]
        let cases = [
            ("vision.conv1", "visual.conv1.weight"),
            ("vision.ln_pre.gamma", "visual.ln_pre.weight"),
            ("vision.proj", "visual.proj"),
            ("vision.blocks.7.attn.in_proj.weight", "visual.transformer.resblocks.7.attn.in_proj_weight"),
            ("vision.blocks.0.attn.out_proj.bias", "visual.transformer.resblocks.0.attn.out_proj.bias"),
            ("text.token_embedding", "token_embedding.weight"),
            ("text.positional_embedding", "positional_embedding"),
            ("text.blocks.2.mlp.c_fc.weight", "transformer.resblocks.2.mlp.c_fc.weight"),
            ("text.ln_final.beta", "ln_final.bias"),
            ("image_adapter.lora_adapters.1.conv_lora_blocks.2.conv_lora_a", "image_adapter.lora_adapters.1.conv_lora_blocks.2.conv_lora_A.weight"),
            ("image_adapter.lora_adapters.1.conv_lora_blocks.0.lora_b", "image_adapter.lora_adapters.1.conv_lora_blocks.0.lora_B"),
            ("image_adapter.lora_adapters.3.fusion", "image_adapter.lora_adapters.3.fusion_conv.weight"),
            ("image_adapter.m_i_w.2", "image_adapter.m_i_w.2.i_w"),
            ("image_adapter.seg_proj.1.fc2.bias", "image_adapter.seg_proj.1.fc.2.bias"),
            ("image_adapter.det_proj.0.fc0.weight", "image_adapter.det_proj.0.fc.0.weight"),
            ("image_adapter.det_layer_norms.3.gamma", "image_adapter.det_layer_norms.3.weight"),
            ("image_adapter.vision_text_gate.2.fc2.weight", "image_adapter.vision_text_gate.2.2.weight"),
            ("image_adapter.folded.0.down", "image_adapter.folded.0.down.weight"),
            ("image_adapter.folded.0.convs.1.conv_b", "image_adapter.folded.0.convs.1.conv_b"),
            ("text_adapter.lora_adapters.0.lora_a", "text_adapter.lora_adapters.0.lora_A"),
            ("text_adapter.m_t_w.1", "text_adapter.m_t_w.1.i_w"),
            ("text_adapter.layer_norms.0.beta", "text_adapter.layer_norms.0.bias"),
        ];
        for (from, to) in cases {
            assert_eq!(checkpoint_name(from), to, "{from}");
        }
    }

    #[test]
    fn layouts_round_trip_and_match_pytorch() {
        // PyTorch Linear(3 → 2): weight [2, 3]; the model keeps [3, 2].
        let module = RawTensor::new(vec![3, 2], vec![1., 2., 3., 4., 5., 6.]);
        let l = Layout::of("vision.blocks.0.mlp.c_fc.weight", "Struct:Linear");
        assert_eq!(l, Layout::Transposed);
        assert_eq!(l.checkpoint_shape(&module.shape), vec![2, 3]);
        let ckpt = l.to_checkpoint(module.clone());
        assert_eq!(ckpt.data, vec![1., 3., 5., 2., 4., 6.]);
        assert_eq!(l.to_module(ckpt), module);
        let c = Layout::of(
            "image_adapter.lora_adapters.0.fusion",
            "Struct:ConvLoraAdapter",
        );
        let ckpt = c.to_checkpoint(module.clone());
        assert_eq!(ckpt.shape, vec![2, 3, 1, 1]);
        assert_eq!(c.to_module(ckpt), module);
        assert_eq!(
            Layout::of("vision.blocks.0.ln_1.gamma", "Struct:LayerNorm"),
            Layout::Same
        );
    }
}
