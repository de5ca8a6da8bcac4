//! The evaluation dump: one `.npy` anomaly map per image and a `scores.json`
//! with every per-image score, label and file, so that anyone can recompute
//! every number of a report ([`recompute_from_dump`], or NumPy + sklearn).
//!
//! # Layout
//!
//! ```text
//! DIR/scores.json          ScoresFile: settings + one ScoreRecord per image
//! DIR/maps/<...>.npy       float32 maps, NumPy format v1.0, '<f4', C order, shape (H, W)
//! ```
//!
//! `map` paths are relative to `DIR`. `mask` paths are as written: absolute,
//! or relative to `DIR`. A mask is binarised (any non-zero channel value =
//! anomalous) and resized to the map's size by nearest neighbour with pixel
//! centres aligned (source index `⌊(i + ½)·src/dst⌋`, as PIL's `NEAREST`).
//! A record with `mask: null` has an all-normal mask; an anomalous image
//! without a mask is an error when its class has maps.
//!
//! Scores are `f32`; JSON holds their shortest round-trip decimal form, so
//! recomputing in Python needs `np.float32(...)` on them to get the same ties.

use crate::report::{evaluate_class, ClassData, ClassResult, PixelData};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors reading or writing a dump.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: not a supported .npy file: {reason}")]
    Npy { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DumpError + '_ {
    move |source| DumpError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A 2-D float32 array read from a `.npy` file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Npy {
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

/// Bytes of a NumPy v1.0 `.npy` file holding `data` as `'<f4'`, C order,
/// shape `(height, width)`. The header is byte-identical to `numpy.save`'s
/// (NumPy ≥ 1.23: room for the first axis to grow, padded to 64 bytes).
///
/// # Panics
/// If `data.len() != height * width`.
pub fn encode_npy(data: &[f32], height: usize, width: usize) -> Vec<u8> {
    assert_eq!(data.len(), height * width, "data is not height*width");
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({height}, {width}), }}");
    // numpy.lib.format: GROWTH_AXIS_MAX_DIGITS = 21 spaces minus the first axis' digits.
    header.push_str(&" ".repeat(21usize.saturating_sub(height.to_string().len())));
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes `data` (row-major `height × width`) as a float32 `.npy` file.
pub fn write_npy(path: &Path, data: &[f32], height: usize, width: usize) -> Result<(), DumpError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    std::fs::write(path, encode_npy(data, height, width)).map_err(io_err(path))
}

/// Parses a `.npy` file's bytes: format v1.0/2.0/3.0, dtype `'<f4'`, a 2-D
/// shape (a 1-D shape `(n,)` reads as `1 × n`), C or Fortran order (Fortran
/// is transposed to row-major).
pub fn decode_npy(bytes: &[u8]) -> Result<Npy, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing \\x93NUMPY magic".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported format version {v}")),
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or("truncated header")
        .and_then(|h| std::str::from_utf8(h).map_err(|_| "header is not text"))?;
    let descr = dict_value(header, "descr").ok_or("no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(format!("dtype {descr:?} is not '<f4'"));
    }
    let fortran = match dict_value(header, "fortran_order").ok_or("no 'fortran_order'")? {
        "False" => false,
        "True" => true,
        v => return Err(format!("bad fortran_order {v:?}")),
    };
    let shape_s = dict_value(header, "shape").ok_or("no 'shape'")?;
    let dims: Vec<usize> = shape_s
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape {shape_s}"))
        })
        .collect::<Result<_, _>>()?;
    let (height, width) = match dims[..] {
        [n] => (1, n),
        [h, w] => (h, w),
        _ => return Err(format!("shape {shape_s} is not 2-D")),
    };
    let n = height.checked_mul(width).ok_or("shape overflows")?;
    let body = &bytes[start + hlen..];
    if body.len() != n * 4 {
        return Err(format!("{} data bytes for shape {shape_s}", body.len()));
    }
    let raw: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let data = if fortran && height > 1 && width > 1 {
        let mut d = vec![0.0; n];
        for x in 0..width {
            for y in 0..height {
                d[y * width + x] = raw[x * height + y];
            }
        }
        d
    } else {
        raw
    };
    Ok(Npy {
        height,
        width,
        data,
    })
}

/// The raw text of `'key': value` in a NumPy header dict (value up to the
/// next top-level comma or closing brace).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat1 = format!("'{key}':");
    let pat2 = format!("\"{key}\":");
    let i = header
        .find(&pat1)
        .map(|i| i + pat1.len())
        .or_else(|| header.find(&pat2).map(|i| i + pat2.len()))?;
    let rest = header[i..].trim_start();
    let mut depth = 0i32;
    for (j, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..j].trim()),
            _ => {}
        }
    }
    None
}

/// Reads a float32 `.npy` file.
pub fn read_npy(path: &Path) -> Result<Npy, DumpError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    decode_npy(&bytes).map_err(|reason| DumpError::Npy {
        path: path.to_path_buf(),
        reason,
    })
}

/// Run settings stored in `scores.json`. `fpr_limit` is what AUPRO needs;
/// anything else (model, image size, prompts, …) goes in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub fpr_limit: f64,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            fpr_limit: 0.3,
            extra: serde_json::Map::new(),
        }
    }
}

/// One image's record in `scores.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// The image file as given to the run.
    pub image: String,
    pub class_name: String,
    /// Ground truth: 0 normal, 1 anomalous.
    pub label: u8,
    /// The image-level anomaly score that the image metrics use.
    pub score: f32,
    /// The classification head's anomaly probability, when the model has one.
    #[serde(default)]
    pub p_cls: Option<f32>,
    /// The maximum of the anomaly map, when there is one.
    #[serde(default)]
    pub pixel_max: Option<f32>,
    /// The anomaly map, relative to the dump directory.
    #[serde(default)]
    pub map: Option<String>,
    /// The ground-truth mask file (PNG), or `null` for an all-normal mask.
    #[serde(default)]
    pub mask: Option<String>,
}

/// The content of `scores.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoresFile {
    /// Format version, 1.
    pub version: u32,
    pub settings: RunSettings,
    pub records: Vec<ScoreRecord>,
}

impl ScoresFile {
    pub fn new(settings: RunSettings, records: Vec<ScoreRecord>) -> Self {
        ScoresFile {
            version: 1,
            settings,
            records,
        }
    }
}

/// The file name of the scores inside a dump directory.
pub const SCORES_FILE: &str = "scores.json";

/// Writes `DIR/scores.json` (pretty JSON).
pub fn write_scores(dir: &Path, scores: &ScoresFile) -> Result<(), DumpError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(SCORES_FILE);
    let text = serde_json::to_string_pretty(scores).map_err(|source| DumpError::Json {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, text).map_err(io_err(&path))
}

/// Reads `DIR/scores.json`.
pub fn read_scores(dir: &Path) -> Result<ScoresFile, DumpError> {
    let path = dir.join(SCORES_FILE);
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    serde_json::from_str(&text).map_err(|source| DumpError::Json { path, source })
}

/// Reads a mask image, binarised (1 where any colour channel is non-zero)
/// and resized to `width × height` by centre-aligned nearest neighbour.
pub fn read_mask(path: &Path, width: usize, height: usize) -> Result<Vec<u8>, DumpError> {
    let img = image::open(path).map_err(|source| DumpError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    let rgb = img.to_rgb16();
    let (sw, sh) = (rgb.width() as usize, rgb.height() as usize);
    let bin: Vec<u8> = rgb
        .pixels()
        .map(|p| u8::from(p.0.iter().any(|&c| c != 0)))
        .collect();
    Ok(resize_nearest(&bin, sw, sh, width, height))
}

/// Centre-aligned nearest-neighbour resize of a row-major `u8` image.
pub fn resize_nearest(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    if sw == dw && sh == dh {
        return src.to_vec();
    }
    let xs: Vec<usize> = (0..dw)
        .map(|x| ((2 * x + 1) * sw / (2 * dw)).min(sw - 1))
        .collect();
    let mut out = Vec::with_capacity(dw * dh);
    for y in 0..dh {
        let sy = ((2 * y + 1) * sh / (2 * dh)).min(sh - 1);
        out.extend(xs.iter().map(|&sx| src[sy * sw + sx]));
    }
    out
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// Recomputes every class's metrics from a dump directory: image metrics
/// from `score`/`label`, pixel metrics from the `.npy` maps and the mask
/// files, with the dump's `fpr_limit`. Classes come in order of first
/// appearance in `scores.json`. A class has pixel metrics when all its
/// records have a map, none when none has; a mix is an error, as are maps of
/// different sizes within a class.
pub fn recompute_from_dump(dir: &Path) -> Result<Vec<ClassResult>, DumpError> {
    let scores = read_scores(dir)?;
    let mut order: Vec<&str> = Vec::new();
    for r in &scores.records {
        if !order.contains(&r.class_name.as_str()) {
            order.push(&r.class_name);
        }
    }
    let mut results = Vec::with_capacity(order.len());
    for class in order {
        let recs: Vec<&ScoreRecord> = scores
            .records
            .iter()
            .filter(|r| r.class_name == class)
            .collect();
        let image_scores: Vec<f32> = recs.iter().map(|r| r.score).collect();
        let image_labels: Vec<u8> = recs.iter().map(|r| r.label).collect();
        let with_map = recs.iter().filter(|r| r.map.is_some()).count();
        let mut maps: Vec<Vec<f32>> = Vec::new();
        let mut masks: Vec<Vec<u8>> = Vec::new();
        let mut size = None;
        if with_map > 0 {
            if with_map != recs.len() {
                return Err(DumpError::Invalid(format!(
                    "class {class:?}: {with_map} of {} records have a map",
                    recs.len()
                )));
            }
            for r in &recs {
                let npy = read_npy(&resolve(dir, r.map.as_deref().unwrap_or_default()))?;
                let (w, h) = *size.get_or_insert((npy.width, npy.height));
                if (npy.width, npy.height) != (w, h) {
                    return Err(DumpError::Invalid(format!(
                        "class {class:?}: map of {} is {}x{}, others {w}x{h}",
                        r.image, npy.width, npy.height
                    )));
                }
                // An anomalous image without a mask has an image label only (the class then
                // gets no pixel metrics, as in the run that wrote the file).
                let mask = match &r.mask {
                    Some(m) => read_mask(&resolve(dir, m), w, h)?,
                    None => vec![0; w * h],
                };
                maps.push(npy.data);
                masks.push(mask);
            }
        }
        let map_refs: Vec<&[f32]> = maps.iter().map(Vec::as_slice).collect();
        let mask_refs: Vec<&[u8]> = masks.iter().map(Vec::as_slice).collect();
        let pixels = size.map(|(width, height)| PixelData {
            maps: &map_refs,
            masks: &mask_refs,
            width,
            height,
        });
        let data = ClassData {
            class_name: class,
            image_scores: &image_scores,
            image_labels: &image_labels,
            pixels,
            anomalous_without_mask: recs
                .iter()
                .filter(|r| r.label != 0 && r.mask.is_none())
                .count(),
        };
        results.push(evaluate_class(&data, scores.settings.fpr_limit));
    }
    Ok(results)
}
