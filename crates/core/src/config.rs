//! Model configuration: the CLIP backbone shape, the ACD-CLIP adapter hyper-parameters and the test-time
//! domain settings. Config is separate from weights: `AcdClipConfig` says what to build, the loader fills it.

use serde::{Deserialize, Serialize};

/// The MLP activation inside the CLIP blocks. The paper's model runs erf GELU (open_clip's default
/// `quick_gelu=False` in the official `create_model`); OpenAI's CLIP was trained with QuickGELU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Gelu,
    QuickGelu,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub patch_size: usize,
    /// Side of the square model input S (pixels).
    pub image_size: usize,
    pub mlp_hidden: usize,
}

impl VisionConfig {
    /// Patches per side: S / patch, floored as the stride-`patch` stem convolution does.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub context_length: usize,
    pub vocab_size: usize,
    pub mlp_hidden: usize,
}

/// The CLIP backbone (both towers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    pub vision: VisionConfig,
    pub text: TextConfig,
    /// Joint embedding size (only used by the plain CLIP outputs `visual.proj` / `text_projection`).
    pub embed_dim: usize,
    pub activation: Activation,
}

/// Conv-LoRA adapters, text LoRA, heads and the Dynamic Fusion Gateway (docs/model.md §2–§4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// N: the number of feature groups; must divide both tower depths.
    pub n_groups: usize,
    pub lora_rank: usize,
    pub lora_alpha: f64,
    pub conv_lora_rank: usize,
    pub conv_lora_alpha: f64,
    /// Odd kernel sizes, one Conv-LoRA block each (paper: [3, 5]).
    pub kernels: Vec<usize>,
    /// Initial per-channel blend weights (trainable; checkpoints overwrite them).
    pub image_adapt_weight: f64,
    pub text_adapt_weight: f64,
    /// Hidden width of the seg/det projection MLPs (256 in the official code).
    pub head_hidden: usize,
    /// Hidden width of the gate MLP (256 in the official code).
    pub gate_hidden: usize,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            n_groups: 4,
            lora_rank: 16,
            lora_alpha: 2.0,
            conv_lora_rank: 8,
            conv_lora_alpha: 2.0,
            kernels: vec![3, 5],
            image_adapt_weight: 0.2,
            text_adapt_weight: 0.2,
            head_hidden: 256,
            gate_hidden: 256,
        }
    }
}

impl AdapterConfig {
    /// rsLoRA-style scale of the linear LoRA: alpha / sqrt(rank).
    pub fn lora_scale(&self) -> f64 {
        self.lora_alpha / (self.lora_rank as f64).sqrt()
    }
    /// Standard LoRA scale of the convolutional LoRA: alpha / rank.
    pub fn conv_lora_scale(&self) -> f64 {
        self.conv_lora_alpha / self.conv_lora_rank as f64
    }
    /// 1-based block indices after which group i is read: [step, 2·step, …, layers].
    pub fn levels(&self, layers: usize) -> Vec<usize> {
        let step = layers / self.n_groups;
        (1..=self.n_groups).map(|i| i * step).collect()
    }
}

/// Test-time settings that depend on the image domain (docs/model.md §4.3, §4.4, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    Industrial,
    Medical,
}

impl Domain {
    /// Gaussian blur on the logits: (kernel size, sigma).
    pub fn blur(&self) -> (usize, f64) {
        match self {
            Domain::Industrial => (7, 1.0),
            Domain::Medical => (9, 1.5),
        }
    }
    /// Weight of the classifier probability in the image score; the map max gets the rest.
    pub fn score_weight(&self) -> f32 {
        match self {
            Domain::Industrial => 0.9,
            Domain::Medical => 0.5,
        }
    }
}

/// Everything needed to build an ACD-CLIP model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcdClipConfig {
    pub clip: ClipConfig,
    pub adapter: AdapterConfig,
    pub domain: Domain,
    /// Side of the output anomaly map. The official test path always upsamples to 518.
    pub map_size: usize,
}

/// A configuration that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("n_groups = {n_groups} must be ≥ 1 and divide the vision depth ({vision_layers}) and the text depth ({text_layers})")]
    GroupsDoNotDivide {
        n_groups: usize,
        vision_layers: usize,
        text_layers: usize,
    },
    #[error("width {width} of the {tower} tower is not divisible by its {heads} heads")]
    HeadsDoNotDivide {
        tower: &'static str,
        width: usize,
        heads: usize,
    },
    #[error("Conv-LoRA kernel sizes must be odd and non-empty, got {0:?}")]
    BadKernels(Vec<usize>),
    #[error("image size {image_size} is smaller than the patch size {patch_size}")]
    ImageTooSmall {
        image_size: usize,
        patch_size: usize,
    },
    #[error("{0} must be positive")]
    NotPositive(&'static str),
    #[error("the text tower has vocabulary size {vocab_size} and context length {context_length}; CLIP's tokenizer needs at least {needed_vocab} and {needed_context}, so it cannot embed a category")]
    TextTowerTooSmall {
        vocab_size: usize,
        context_length: usize,
        needed_vocab: usize,
        needed_context: usize,
    },
}

impl ClipConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let v = &self.vision;
        let t = &self.text;
        for (name, value) in [
            ("vision width", v.width),
            ("vision layers", v.layers),
            ("vision heads", v.heads),
            ("patch size", v.patch_size),
            ("vision MLP width", v.mlp_hidden),
            ("text width", t.width),
            ("text layers", t.layers),
            ("text heads", t.heads),
            ("context length", t.context_length),
            ("vocabulary size", t.vocab_size),
            ("text MLP width", t.mlp_hidden),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive(name));
            }
        }
        if v.width % v.heads != 0 {
            return Err(ConfigError::HeadsDoNotDivide {
                tower: "vision",
                width: v.width,
                heads: v.heads,
            });
        }
        if t.width % t.heads != 0 {
            return Err(ConfigError::HeadsDoNotDivide {
                tower: "text",
                width: t.width,
                heads: t.heads,
            });
        }
        if v.image_size < v.patch_size {
            return Err(ConfigError::ImageTooSmall {
                image_size: v.image_size,
                patch_size: v.patch_size,
            });
        }
        Ok(())
    }
}

impl AcdClipConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.clip.validate()?;
        let a = &self.adapter;
        let (vl, tl) = (self.clip.vision.layers, self.clip.text.layers);
        if a.n_groups == 0 || vl % a.n_groups != 0 || tl % a.n_groups != 0 {
            return Err(ConfigError::GroupsDoNotDivide {
                n_groups: a.n_groups,
                vision_layers: vl,
                text_layers: tl,
            });
        }
        if a.kernels.is_empty() || a.kernels.iter().any(|k| k % 2 == 0) {
            return Err(ConfigError::BadKernels(a.kernels.clone()));
        }
        for (name, value) in [
            ("lora_rank", a.lora_rank),
            ("conv_lora_rank", a.conv_lora_rank),
            ("head_hidden", a.head_hidden),
            ("gate_hidden", a.gate_hidden),
            ("map_size", self.map_size),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive(name));
            }
        }
        Ok(())
    }

    pub fn image_levels(&self) -> Vec<usize> {
        self.adapter.levels(self.clip.vision.layers)
    }
    pub fn text_levels(&self) -> Vec<usize> {
        self.adapter.levels(self.clip.text.layers)
    }
}

/// Published backbones (head width 64 as in OpenAI CLIP).
pub mod presets {
    use super::*;

    /// OpenAI ViT-L/14-336 run at `image_size` (the paper: 518, erf GELU).
    pub fn vit_l_14_336(image_size: usize, activation: Activation) -> ClipConfig {
        ClipConfig {
            vision: VisionConfig {
                width: 1024,
                layers: 24,
                heads: 16,
                patch_size: 14,
                image_size,
                mlp_hidden: 4096,
            },
            text: TextConfig {
                width: 768,
                layers: 12,
                heads: 12,
                context_length: 77,
                vocab_size: 49408,
                mlp_hidden: 3072,
            },
            embed_dim: 768,
            activation,
        }
    }

    /// OpenAI ViT-B/16 at `image_size` (native 224).
    pub fn vit_b_16(image_size: usize, activation: Activation) -> ClipConfig {
        ClipConfig {
            vision: VisionConfig {
                width: 768,
                layers: 12,
                heads: 12,
                patch_size: 16,
                image_size,
                mlp_hidden: 3072,
            },
            text: TextConfig {
                width: 512,
                layers: 12,
                heads: 8,
                context_length: 77,
                vocab_size: 49408,
                mlp_hidden: 2048,
            },
            embed_dim: 512,
            activation,
        }
    }

    /// A small random-weight model for tests of the plumbing (bundles, the page): seconds on any backend.
    pub fn tiny(image_size: usize) -> AcdClipConfig {
        AcdClipConfig {
            clip: ClipConfig {
                vision: VisionConfig {
                    width: 64,
                    layers: 4,
                    heads: 2,
                    patch_size: 16,
                    image_size,
                    mlp_hidden: 256,
                },
                text: TextConfig {
                    width: 64,
                    layers: 4,
                    heads: 2,
                    context_length: 77,
                    vocab_size: 49408,
                    mlp_hidden: 256,
                },
                embed_dim: 64,
                activation: Activation::Gelu,
            },
            adapter: AdapterConfig {
                n_groups: 2,
                lora_rank: 8,
                conv_lora_rank: 4,
                head_hidden: 64,
                gate_hidden: 64,
                ..AdapterConfig::default()
            },
            domain: Domain::Industrial,
            map_size: image_size,
        }
    }
}
