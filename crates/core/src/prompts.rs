//! Prompt ensembles and the hand-written class "real names" of the official `dataset/info.py`
//! (docs/model.md §3.2–3.4), how a user's category string becomes the name put into prompts, and
//! from there its tokens and class embedding (used by the detector, `acd export` and training).

use burn::tensor::{backend::Backend, Tensor};

use crate::clip::tokenizer::{ClipTokenizer, CONTEXT_LENGTH, VOCAB_SIZE};
use crate::config::AcdClipConfig;
use crate::model::{AcdClip, TokenBatch};
use crate::trace::Trace;
use crate::Error;

/// Normal states (3) and abnormal states (5); `{}` is the real name.
pub const NORMAL_STATES: [&str; 3] = ["{}", "a {}", "the {}"];
pub const ABNORMAL_STATES: [&str; 5] = [
    "a damaged {}",
    "a broken {}",
    "a {} with flaw",
    "a {} with defect",
    "a {} with damage",
];
/// Templates (2) wrapped around each state.
pub const TEMPLATES: [&str; 2] = ["{}.", "a photo of {}."];

/// The fallback class for unknown objects.
pub const OBJECT: &str = "object";

pub const MVTEC: &[(&str, &str)] = &[
    ("bottle", "dark bottle"),
    ("cable", "top view of three cables"),
    ("capsule", "black and orange capsule"),
    ("carpet", "gray carpet"),
    ("grid", "metal or plastic mesh"),
    ("hazelnut", "single brown hazelnut"),
    ("leather", "brown leather"),
    ("metal_nut", "metal nut which has four notched edges"),
    (
        "pill",
        "oval white pill with small red speckles and the letters 'FF' engraved",
    ),
    ("screw", "screw"),
    ("tile", "speckled tile surface"),
    ("transistor", "a three-legged transistor placed vertically"),
    ("toothbrush", "toothbrush head"),
    ("wood", "wood surface"),
    ("zipper", "a black zipper"),
];

pub const VISA: &[(&str, &str)] = &[
    ("candle", "candle"),
    ("pcb3", "infrared sensor pcb module"),
    ("capsules", "capsules"),
    ("pipe_fryum", "pipe-shaped fryum"),
    ("pcb4", "battery charging pcb module"),
    ("macaroni2", "scattered yellow macaroni"),
    ("pcb2", "integrated circuits board"),
    ("chewinggum", "chewing gum"),
    ("macaroni1", "orange macaroni"),
    ("cashew", "cashew nut"),
    ("fryum", "wheel-shaped fryum snack"),
    ("pcb1", "dual ultrasonic distance sensor pcb module"),
];

pub const MPDD: &[(&str, &str)] = &[
    ("connector", "metal clamps with black adjustment knobs"),
    ("tubes", "scattered metal objects"),
    ("metal_plate", "blue rectangular metal plate with a notch on one side"),
    ("bracket_white", "white, elongated triangular metal bracket with a smooth, matte finish"),
    ("bracket_brown", "brown L-shaped metal bracket with smooth, glossy finish and multiple mounting holes along its arms"),
    ("bracket_black", "black ornamental metal bracket with spiral design attached to a rectangular frame"),
];

pub const BTAD: &[(&str, &str)] = &[
    ("01", "Bright concentric rings in neon yellow and blue tones against a dark blue background, resembling a stylized wave or energy field radiating outward."),
    ("02", "vertical fabric lines in warm, dusty pink and beige tones"),
    ("03", "oval concentric circular rings in gradient shades of blue and white"),
];

pub const RSDD: &[(&str, &str)] = &[
    ("Dent", "Dent"),
    ("Crush", "Crush"),
    ("Scratch", "Scratch"),
    ("Damage", "Damage"),
];

pub const MEDICAL: &[(&str, &str)] = &[
    ("Brain", "scan"),
    ("Liver", "scan"),
    ("Retina", "scan"),
    ("Colon_clinicDB", "colon endoscopy image"),
    ("Colon_colonDB", "colon endoscopy image"),
    ("Kvasir", "colon endoscopy image"),
    ("CVC-300", "colon endoscopy image"),
];

/// Every dataset table by its official name.
pub const DATASETS: &[(&str, &[(&str, &str)])] = &[
    ("MVTec", MVTEC),
    ("VisA", VISA),
    ("MPDD", MPDD),
    ("BTAD", BTAD),
    ("RSDD", RSDD),
    ("Medical", MEDICAL),
];

/// The classes of a dataset (case-insensitive name), if known.
pub fn dataset_classes(dataset: &str) -> Option<&'static [(&'static str, &'static str)]> {
    DATASETS
        .iter()
        .find(|(d, _)| d.eq_ignore_ascii_case(dataset))
        .map(|(_, c)| *c)
}

/// How a category string is understood.
#[derive(Clone, Debug, PartialEq)]
pub enum Category {
    /// A dataset class: (class name, real name).
    Known { class: String, real_name: String },
    /// The generic fallback.
    Object,
    /// Free text, used as the real name.
    Custom(String),
}

impl Category {
    /// A dataset class name (exact, then case-insensitive), `object`, else free text.
    pub fn parse(input: &str) -> Self {
        let s = input.trim();
        if s.eq_ignore_ascii_case(OBJECT) {
            return Category::Object;
        }
        let all = || DATASETS.iter().flat_map(|(_, c)| c.iter());
        if let Some((c, r)) = all()
            .find(|(c, _)| *c == s)
            .or_else(|| all().find(|(c, _)| c.eq_ignore_ascii_case(s)))
        {
            return Category::Known {
                class: c.to_string(),
                real_name: r.to_string(),
            };
        }
        Category::Custom(s.to_string())
    }

    pub fn real_name(&self) -> &str {
        match self {
            Category::Known { real_name, .. } => real_name,
            Category::Object => OBJECT,
            Category::Custom(s) => s,
        }
    }

    /// A stable key for caches and bundles.
    pub fn key(&self) -> String {
        match self {
            Category::Known { class, .. } => class.clone(),
            Category::Object => OBJECT.into(),
            Category::Custom(s) => s.clone(),
        }
    }
}

fn fill(template: &str, value: &str) -> String {
    template.replacen("{}", value, 1)
}

/// The 6 normal and 10 abnormal sentences for a real name, states outer, templates inner.
pub fn sentences(real_name: &str) -> (Vec<String>, Vec<String>) {
    let build = |states: &[&str]| {
        states
            .iter()
            .flat_map(|s| TEMPLATES.iter().map(move |t| fill(t, &fill(s, real_name))))
            .collect::<Vec<_>>()
    };
    (build(&NORMAL_STATES), build(&ABNORMAL_STATES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_follow_the_official_order() {
        // config.json of the official fixture lists these for "dark bottle".
        let (n, a) = sentences("dark bottle");
        assert_eq!(
            n,
            [
                "dark bottle.",
                "a photo of dark bottle.",
                "a dark bottle.",
                "a photo of a dark bottle.",
                "the dark bottle.",
                "a photo of the dark bottle."
            ]
        );
        assert_eq!(a.len(), 10);
        assert_eq!(a[0], "a damaged dark bottle.");
        assert_eq!(a[9], "a photo of a dark bottle with damage.");
    }

    #[test]
    fn categories_resolve() {
        assert_eq!(Category::parse("Bottle").real_name(), "dark bottle");
        assert_eq!(Category::parse("object"), Category::Object);
        assert_eq!(
            Category::parse("rusty gear"),
            Category::Custom("rusty gear".into())
        );
        assert_eq!(Category::parse("01").real_name(), BTAD[0].1);
    }
}

/// The tokenised prompt ensembles (normal, abnormal) of a class's real name.
pub fn prompt_tokens_for_name(
    tokenizer: &ClipTokenizer,
    real_name: &str,
) -> Result<(TokenBatch, TokenBatch), Error> {
    let (normal, abnormal) = sentences(real_name);
    let tok = |s: &[String]| -> Result<TokenBatch, Error> {
        let rows = s
            .iter()
            .map(|t| tokenizer.tokenize(t, CONTEXT_LENGTH))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TokenBatch::new(&rows))
    };
    Ok((tok(&normal)?, tok(&abnormal)?))
}

/// The tokenised prompt ensembles of a user's category: a dataset class (with its real name),
/// `object`, or free text (docs/model.md §3.2, §3.4).
pub fn prompt_tokens(
    tokenizer: &ClipTokenizer,
    category: &str,
) -> Result<(TokenBatch, TokenBatch), Error> {
    prompt_tokens_for_name(tokenizer, Category::parse(category).real_name())
}

/// A category's class embedding from its prompt tokens: ACD-CLIP's `[N, D_text, 2]` through the text
/// LoRA adapters (docs/model.md §3.3), or, for plain CLIP (`Head::TrainingFree`), CLIP's
/// projected `[1, D, 2]`.
pub fn embed_category<B: Backend>(
    model: &AcdClip<B>,
    config: &AcdClipConfig,
    head: crate::Head,
    (normal, abnormal): &(TokenBatch, TokenBatch),
    device: &B::Device,
) -> Result<Tensor<B, 3>, Error> {
    // Token ids index the token embedding and the prompt length slices the positional one: a text
    // config smaller than the tokenizer's (a hostile or mistaken bundle) must fail here, not there.
    let t = &config.clip.text;
    if t.vocab_size < VOCAB_SIZE || t.context_length < CONTEXT_LENGTH {
        return Err(crate::config::ConfigError::TextTowerTooSmall {
            vocab_size: t.vocab_size,
            context_length: t.context_length,
            needed_vocab: VOCAB_SIZE,
            needed_context: CONTEXT_LENGTH,
        }
        .into());
    }
    if head.is_training_free() {
        let text = model.text.as_ref().ok_or(Error::NoTextTower)?;
        Ok(crate::training_free::class_embedding(text, normal, abnormal, device).unsqueeze::<3>())
    } else {
        model.class_embedding(config, normal, abnormal, device, &mut Trace::off())
    }
}
