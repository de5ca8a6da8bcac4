//! Index files: a list of images with labels, as jsonl (one JSON object per line, the official
//! code's format) or CSV/TSV (a header row). Masks are optional: most real inspection data has
//! image labels only, and such images count for image metrics, not pixel metrics.
//!
//! Which field holds what is a column mapping ([`IndexColumns`]); labels may be 0/1, booleans,
//! words (`good`, `anomalous`, …) or numbers such as a defect probability with a cut-off.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{io_err, DataError, Result};
use crate::Sample;

/// Field names tried, in order, when a column is not named.
const IMAGE_FIELDS: &[&str] = &["image_path", "image", "path", "file", "filename"];
const LABEL_FIELDS: &[&str] = &["label", "anomalous", "is_anomalous", "defective"];
const CLASS_FIELDS: &[&str] = &["class_name", "class", "category"];
const MASK_FIELDS: &[&str] = &["mask_path", "mask"];
const DEFECT_FIELDS: &[&str] = &["defect", "specie_name", "defect_type"];

/// Which fields of an index hold what (jsonl keys or CSV header names); `None` = the usual names.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct IndexColumns {
    /// The image path (relative to the index file's folder, or absolute).
    pub image: Option<String>,
    /// The label.
    pub label: Option<String>,
    /// The class; rows without one get [`IndexColumns::class_name`].
    pub class: Option<String>,
    /// The ground-truth mask path (optional per row).
    pub mask: Option<String>,
    /// The defect type (default: the image's folder name).
    pub defect: Option<String>,
    /// Numeric labels (e.g. a defect probability): anomalous at or above this value. Without it a
    /// numeric label must be 0 or 1.
    pub cutoff: Option<f64>,
    /// The class of rows without a class field (default: the index file's folder name).
    pub class_name: Option<String>,
}

/// An index file and its column mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexSpec {
    pub path: PathBuf,
    pub columns: IndexColumns,
}

impl IndexSpec {
    /// The file with the usual column names.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            columns: IndexColumns::default(),
        }
    }

    fn is_csv(&self) -> bool {
        has_extension(&self.path, &["csv", "tsv"])
    }
}

pub(crate) fn has_extension(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Whether `p` names an index file (by its extension).
pub fn is_index_file(p: &Path) -> bool {
    has_extension(p, &["jsonl", "csv", "tsv"])
}

/// One row: its 1-based line/row number and its fields as text (JSON numbers and booleans as
/// written, null as absent).
type Row = (usize, HashMap<String, String>);

/// Reads the samples of `spec`; relative paths are resolved against `root`.
pub fn read_index(root: &Path, spec: &IndexSpec) -> Result<Vec<Sample>> {
    let text = fs::read_to_string(&spec.path).map_err(io_err(&spec.path))?;
    let rows = if spec.is_csv() {
        csv_rows(&spec.path, &text, &spec.columns)?
    } else {
        jsonl_rows(&spec.path, &text)?
    };
    let default_class = spec.columns.class_name.clone().unwrap_or_else(|| {
        let dir = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "images".into())
    });
    rows.into_iter()
        .map(|(line, row)| sample_of(root, spec, &default_class, line, &row))
        .collect()
}

fn row_error(path: &Path, line: usize, message: String) -> DataError {
    DataError::Index {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn jsonl_rows(path: &Path, text: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |m: String| row_error(path, line_no, m);
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("expected a JSON object".into()))?;
        let mut row = HashMap::new();
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
                other => return Err(err(format!("field {k:?} is {other}, not a value"))),
            };
            row.insert(k.clone(), text);
        }
        rows.push((line_no, row));
    }
    Ok(rows)
}

/// The delimiter of a CSV/TSV file: tab for `.tsv`, else the most frequent of `,` `;` tab in
/// the header row (a European spreadsheet writes `;`).
fn delimiter(path: &Path, header: &str) -> u8 {
    if has_extension(path, &["tsv"]) {
        return b'\t';
    }
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&d| (header.bytes().filter(|&b| b == d).count(), d == b','))
        .unwrap_or(b',')
}

fn csv_rows(path: &Path, text: &str, columns: &IndexColumns) -> Result<Vec<Row>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // spreadsheet BOM
    let header_line = text.lines().next().unwrap_or("");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(path, header_line))
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| row_error(path, 1, format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    // A named column must exist: a typo would otherwise read as "no such field" on every row.
    for name in [
        &columns.image,
        &columns.label,
        &columns.class,
        &columns.mask,
        &columns.defect,
    ]
    .into_iter()
    .flatten()
    {
        if !header.iter().any(|h| h == name) {
            return Err(row_error(
                path,
                1,
                format!("no column {name:?} (columns: {})", header.join(", ")),
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row_no = i + 2;
        let record = record.map_err(|e| row_error(path, row_no, e.to_string()))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row = header
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        rows.push((row_no, row));
    }
    Ok(rows)
}

/// The value of the named field, or of the first usual name present.
fn field<'a>(
    row: &'a HashMap<String, String>,
    named: &Option<String>,
    usual: &[&str],
) -> Option<&'a str> {
    match named {
        Some(n) => row.get(n).map(String::as_str),
        None => usual.iter().find_map(|k| row.get(*k).map(String::as_str)),
    }
    .filter(|s| !s.is_empty())
}

/// A label: 0/1, a boolean, a word, or a number against the cut-off.
pub fn parse_label(value: &str, cutoff: Option<f64>) -> std::result::Result<u8, String> {
    let v = value.trim();
    if let Ok(x) = v.parse::<f64>() {
        if !x.is_finite() {
            return Err(format!("label {v:?} is not a finite number"));
        }
        return match cutoff {
            Some(c) => Ok(u8::from(x >= c)),
            None if x == 0.0 => Ok(0),
            None if x == 1.0 => Ok(1),
            None => Err(format!(
                "label {v} is neither 0 nor 1: give a cut-off for numeric labels \
                 (--label-cutoff, anomalous at or above it)"
            )),
        };
    }
    match v.to_ascii_lowercase().as_str() {
        "false" | "good" | "normal" | "ok" | "pass" => Ok(0),
        "true" | "bad" | "anomaly" | "anomalous" | "defect" | "defective" | "ng" | "fail" => Ok(1),
        _ => Err(format!(
            "unknown label {v:?} (expected 0/1, true/false, good/normal or anomalous/defect, \
             or a number with a cut-off)"
        )),
    }
}

fn resolve(root: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

fn sample_of(
    root: &Path,
    spec: &IndexSpec,
    default_class: &str,
    line: usize,
    row: &HashMap<String, String>,
) -> Result<Sample> {
    let c = &spec.columns;
    let err = |m: String| row_error(&spec.path, line, m);
    let image_rel = field(row, &c.image, IMAGE_FIELDS).ok_or_else(|| {
        err(match &c.image {
            Some(n) => format!("no image path in column {n:?}"),
            None => format!("no image path (fields tried: {})", IMAGE_FIELDS.join(", ")),
        })
    })?;
    let label_text = field(row, &c.label, LABEL_FIELDS).ok_or_else(|| {
        err(match &c.label {
            Some(n) => format!("no label in column {n:?}"),
            None => format!("no label (fields tried: {})", LABEL_FIELDS.join(", ")),
        })
    })?;
    let label = parse_label(label_text, c.cutoff).map_err(err)?;
    let class_name = field(row, &c.class, CLASS_FIELDS)
        .unwrap_or(default_class)
        .to_string();
    let image = resolve(root, image_rel);
    if !image.is_file() {
        return Err(err(format!("image {} does not exist", image.display())));
    }
    // A normal image's mask is all zero by definition; an anomalous one's is optional.
    let mask = match field(row, &c.mask, MASK_FIELDS) {
        Some(m) if label == 1 => {
            let p = resolve(root, m);
            if !p.is_file() {
                return Err(err(format!("mask {} does not exist", p.display())));
            }
            Some(p)
        }
        _ => None,
    };
    let defect = if label == 0 {
        "good".to_string()
    } else {
        field(row, &c.defect, DEFECT_FIELDS)
            .map(str::to_string)
            .or_else(|| {
                Path::new(image_rel)
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "anomaly".into())
    };
    Ok(Sample {
        image,
        label,
        class_name,
        defect,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use crate::{Dataset, Layout};

    fn png(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(4, 4, image::Luma([9]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn labels() {
        for (v, want) in [
            ("0", 0),
            ("1", 1),
            ("1.0", 1),
            ("true", 1),
            ("Good", 0),
            ("NG", 1),
            ("defective", 1),
        ] {
            assert_eq!(parse_label(v, None), Ok(want), "{v}");
        }
        assert!(parse_label("0.333", None).unwrap_err().contains("cut-off"));
        assert!(parse_label("maybe", None)
            .unwrap_err()
            .contains("unknown label"));
        assert!(parse_label("NaN", Some(0.5)).is_err());
        assert_eq!(parse_label("0.333", Some(0.5)), Ok(0));
        assert_eq!(parse_label("0.5", Some(0.5)), Ok(1));
        assert_eq!(parse_label("0.6667", Some(0.5)), Ok(1));
    }

    /// A CSV with a probability column and a cut-off, no class and no masks (ELPV's form).
    #[test]
    fn csv_with_probabilities_and_no_masks() {
        let t = TempDir::new("csv");
        let r = t.path().join("cells");
        for i in 0..4 {
            png(&r.join(format!("images/c{i}.png")));
        }
        fs::write(
            r.join("labels.csv"),
            "path,probability,type\nimages/c0.png,0.0,mono\nimages/c1.png,0.3333333333333333,poly\n\n\
             images/c2.png,1.0,mono\nimages/c3.png,0.6666666666666666,poly\n",
        )
        .unwrap();
        let spec = IndexSpec {
            path: r.join("labels.csv"),
            columns: IndexColumns {
                image: Some("path".into()),
                label: Some("probability".into()),
                cutoff: Some(0.5),
                ..Default::default()
            },
        };
        let d = Dataset::open(&r, Layout::Index(spec.clone())).unwrap();
        let labels: Vec<u8> = d.samples().iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![0, 0, 1, 1]);
        assert!(d.samples().iter().all(|s| s.mask.is_none()));
        assert_eq!(d.classes(), vec!["cells"]);
        assert_eq!(d.samples()[2].defect, "images");
        // The class from a column, auto-detected from the file name.
        let by_type = IndexSpec {
            columns: IndexColumns {
                class: Some("type".into()),
                ..spec.columns.clone()
            },
            ..spec.clone()
        };
        let d = Dataset::open(&r, Layout::Index(by_type)).unwrap();
        assert_eq!(d.classes(), vec!["mono", "poly"]);
        let auto = Dataset::open(r.join("labels.csv"), Layout::Auto);
        // Without the mapping the usual names are tried: `path` is one, but no label column is.
        let e = auto.unwrap_err().to_string();
        assert!(e.contains("labels.csv:2:") && e.contains("no label"), "{e}");
        // Without a cut-off a probability is refused, naming the row.
        let no_cutoff = IndexSpec {
            columns: IndexColumns {
                cutoff: None,
                ..spec.columns.clone()
            },
            ..spec.clone()
        };
        let e = Dataset::open(&r, Layout::Index(no_cutoff))
            .unwrap_err()
            .to_string();
        assert!(e.contains("labels.csv:3:") && e.contains("cut-off"), "{e}");
        // A misspelt column is named with the columns there are.
        let typo = IndexSpec {
            columns: IndexColumns {
                label: Some("prob".into()),
                ..spec.columns.clone()
            },
            ..spec
        };
        let e = Dataset::open(&r, Layout::Index(typo))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column \"prob\"") && e.contains("path, probability, type"),
            "{e}"
        );
    }

    /// Semicolons, a BOM, the usual column names, words as labels, a mask on some rows.
    #[test]
    fn csv_usual_names_semicolons_and_masks() {
        let t = TempDir::new("csv2");
        let r = t.path();
        png(&r.join("a/ok.png"));
        png(&r.join("a/bad.png"));
        png(&r.join("a/bad2.png"));
        png(&r.join("gt/bad.png"));
        fs::write(
            r.join("index.csv"),
            "\u{feff}image_path;label;class_name;mask_path\na/ok.png;good;screw;\n\
             a/bad.png;anomalous;screw;gt/bad.png\na/bad2.png;1;screw;\n",
        )
        .unwrap();
        let d = Dataset::open(r.join("index.csv"), Layout::Auto).unwrap();
        assert!(matches!(d.layout(), Layout::Index(_)));
        let s = d.samples();
        assert_eq!(s.len(), 3);
        assert_eq!(d.classes(), vec!["screw"]);
        let bad = s.iter().find(|x| x.image.ends_with("a/bad.png")).unwrap();
        assert!(bad.mask.as_ref().unwrap().ends_with("gt/bad.png"));
        let bad2 = s.iter().find(|x| x.image.ends_with("a/bad2.png")).unwrap();
        assert_eq!((bad2.label, bad2.mask.is_none()), (1, true));
        // A row naming a missing image is refused with its row number.
        fs::write(
            r.join("index.csv"),
            "image_path,label\na/ok.png,0\na/gone.png,1\n",
        )
        .unwrap();
        let e = Dataset::open(r.join("index.csv"), Layout::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("index.csv:3:") && e.contains("does not exist"),
            "{e}"
        );
    }

    /// jsonl rows without masks are image-level samples; probabilities need the cut-off.
    #[test]
    fn jsonl_without_masks() {
        let t = TempDir::new("jsonl-nomask");
        let r = t.path();
        png(&r.join("x/0.png"));
        png(&r.join("x/1.png"));
        fs::write(
            r.join("i.jsonl"),
            "{\"image_path\":\"x/0.png\",\"label\":0,\"class_name\":\"pill\"}\n\
             {\"image_path\":\"x/1.png\",\"label\":true,\"class_name\":\"pill\",\"mask_path\":null}\n",
        )
        .unwrap();
        let d = Dataset::open(r.join("i.jsonl"), Layout::Auto).unwrap();
        let s = d.samples();
        assert_eq!((s[1].label, s[1].mask.is_none()), (1, true));
        fs::write(
            r.join("p.jsonl"),
            "{\"file\":\"x/0.png\",\"p\":0.25}\n{\"file\":\"x/1.png\",\"p\":0.75}\n",
        )
        .unwrap();
        let spec = IndexSpec {
            path: r.join("p.jsonl"),
            columns: IndexColumns {
                label: Some("p".into()),
                cutoff: Some(0.5),
                class_name: Some("pill".into()),
                ..Default::default()
            },
        };
        let d = Dataset::open(r, Layout::Index(spec)).unwrap();
        let labels: Vec<u8> = d.samples().iter().map(|s| s.label).collect();
        assert_eq!(
            (labels, d.classes()),
            (vec![0, 1], vec!["pill".to_string()])
        );
    }
}
