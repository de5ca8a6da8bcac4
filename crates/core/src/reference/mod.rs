//! Normal-reference memory (few-shot mode): show the model what "normal" looks like with K normal
//! images of a category, without training.
//!
//! From each reference image the model's own patch features are kept per level, L2-normalised:
//! the patch embedding (`conv1` of each pixel patch, before any block) and/or the visual groups'
//! adapted patch tokens `G_i` (after each group's Conv-LoRA blend; training-free: CLIP's projected
//! last-layer tokens), see [`ReferenceFeatures`]. A large memory is reduced by a seeded greedy k-center
//! coreset (PatchCore). For an input patch `p` and group `i`, the distance to the memory is the
//! cosine distance to its nearest reference patch, `d_i(p) = 1 − max_m ⟨f_i(p), m⟩` (exact nearest
//! neighbour, as AnomalyDINO and WinCLIP+ do). It is measured in units of the memory's own
//! normal distance `q_i` (the 99th percentile of held-out reference patches' distances, see
//! [`memory::ReferenceMemory::build`]) and averaged over groups: `r(p) = mean_i d_i(p) / q_i`.
//!
//! The reference anomaly of a patch is `a(p) = 1 − 2^(−r(p))` (0 on a reference patch, ½ at the
//! normal limit, → 1 far away); it is blurred and upsampled like the zero-shot map, and combined
//! with the zero-shot map and score as WinCLIP+ (Jeong et al., CVPR 2023, §4.3) does, with equal
//! weights: `map = ½·map₀ + ½·a↑`, `score = ½·score₀ + ½·max(a↑)`. The normalisation by `q_i` puts
//! the two terms on one scale; WinCLIP+ adds raw cosine distances. All constants are below and in
//! docs/few-shot.md.
//!
//! Out-of-domain check: the fraction of an input's patches beyond the normal limit (`r > 1`). A
//! normal in-domain image has about 1 % of them by construction, a local defect a few percent more;
//! when more than [`FAR_FRACTION_LIMIT`] of the image is beyond it, the image is outside what the
//! memory (and so the model, for this category) knows, and no verdict is given.

pub mod coreset;
pub mod file;
pub mod memory;
pub mod scoring;

pub use memory::{BuildOptions, ReferenceGroup, ReferenceMemory};

use crate::config::AcdClipConfig;

/// Which of the model's patch features a memory keeps (each is one level of the memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceFeatures {
    /// The patch embedding: local colour and texture, before attention mixes in context. The
    /// default: on the project's textures it gave the best maps and no false out-of-domain calls
    /// (docs/few-shot.md).
    #[default]
    PatchEmbedding,
    /// The visual groups' adapted patch tokens `G_i` (training-free: the projected last-layer
    /// tokens): what WinCLIP+-style memories on large pretrained CLIPs use.
    GroupTokens,
    /// Both, as separate levels.
    Both,
}

impl ReferenceFeatures {
    pub const ALL: [ReferenceFeatures; 3] = [
        ReferenceFeatures::PatchEmbedding,
        ReferenceFeatures::GroupTokens,
        ReferenceFeatures::Both,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReferenceFeatures::PatchEmbedding => "patch-embedding",
            ReferenceFeatures::GroupTokens => "group-tokens",
            ReferenceFeatures::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn uses_embedding(self) -> bool {
        self != ReferenceFeatures::GroupTokens
    }

    pub fn uses_groups(self) -> bool {
        self != ReferenceFeatures::PatchEmbedding
    }

    /// Feature width of each level for a model: the embedding first, then the groups.
    pub fn dims(self, config: &AcdClipConfig, head: crate::Head) -> Vec<usize> {
        let mut dims = Vec::new();
        if self.uses_embedding() {
            dims.push(config.clip.vision.width);
        }
        if self.uses_groups() {
            dims.extend(head.group_token_dims(config));
        }
        dims
    }
}
pub use scoring::{DeviceReference, DomainCheck, ReferenceInfo, ReferenceSource};

/// Weight of the reference term in the final map and score (WinCLIP+: ½).
pub const REFERENCE_WEIGHT: f32 = 0.5;
/// Quantile of held-out normal reference distances that defines a group's normal limit `q_i`.
pub const NORMAL_QUANTILE: f64 = 0.99;
/// Out-of-domain when more than this fraction of an image's patches is beyond the normal limit.
pub const FAR_FRACTION_LIMIT: f32 = 0.5;
/// Reference images per memory (the page's limit; the CLI allows more).
pub const MAX_PAGE_REFERENCE_IMAGES: usize = 16;
/// Default coreset size per group: above it, the greedy coreset keeps this many patches.
pub const DEFAULT_MAX_PATCHES: usize = 8192;
/// Held-out query patches (per group) used to estimate the normal limit.
pub const NORMAL_QUERIES: usize = 2048;
