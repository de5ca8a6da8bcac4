//! Per-class results, the paper's dataset mean, and reports: Markdown (the
//! paper's table), JSON, CSV and a self-contained HTML page.
//!
//! # The dataset mean (paper convention)
//!
//! Each class value `x ∈ [0, 1]` is first rounded as the paper does,
//! `round(x, 4) · 100` (a percentage with two decimals, ties to even as
//! `numpy.round`), and the mean row is the unweighted mean of those rounded
//! percentages over the classes. An undefined value (a class with one label
//! only) counts as 0 under [`Missing::Zero`] (the paper's protocol) or is left
//! out of the mean under [`Missing::Skip`].

use crate::metrics::{BinaryMetrics, CurvePoint, PixelMetrics};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// At most this many points per plotted curve.
pub const MAX_CURVE_POINTS: usize = 500;

/// Curves for plotting, each downsampled to at most [`MAX_CURVE_POINTS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// `(FPR, TPR)`.
    pub pixel_roc: Vec<CurvePoint>,
    /// `(recall, precision)`.
    pub pixel_pr: Vec<CurvePoint>,
    /// `(FPR, PRO)` up to the FPR limit.
    pub pixel_pro: Vec<CurvePoint>,
    /// `(FPR, TPR)`.
    pub image_roc: Vec<CurvePoint>,
    /// `(recall, precision)`.
    pub image_pr: Vec<CurvePoint>,
}

/// The metrics of one class. Values are fractions in `[0, 1]`; `None` where
/// undefined (see [`crate::metrics`]) or where the class has no pixel maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassResult {
    pub class_name: String,
    pub pixel_auroc: Option<f64>,
    pub pixel_ap: Option<f64>,
    pub pixel_aupro: Option<f64>,
    pub pixel_f1_max: Option<f64>,
    pub image_auroc: Option<f64>,
    pub image_ap: Option<f64>,
    pub image_f1_max: Option<f64>,
    /// Threshold on the image score at which the image F1-max is reached.
    #[serde(default)]
    pub image_f1_threshold: Option<f32>,
    /// Threshold on the pixel score at which the pixel F1-max is reached.
    #[serde(default)]
    pub pixel_f1_threshold: Option<f32>,
    /// Normal images (label 0).
    pub n_normal: usize,
    /// Anomalous images (label ≠ 0).
    pub n_anomalous: usize,
    /// Whether the pixel columns were computed, and if not, why.
    #[serde(default)]
    pub pixel_metrics: PixelMetricsStatus,
    #[serde(default)]
    pub curves: Curves,
}

/// Whether a class's pixel metrics were computed: only when every anomalous image has a mask
/// (pixel metrics over the masked images alone would score a different set than the image
/// metrics, and an unmasked defect counted as normal pixels would be wrong).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum PixelMetricsStatus {
    /// Every anomalous image has a mask.
    #[default]
    Computed,
    /// No anomalous image has a mask (image labels only).
    NoMasks { anomalous: usize },
    /// Some anomalous images have masks, some do not.
    SomeMasks {
        with_mask: usize,
        without_mask: usize,
    },
    /// No maps were given (an image-level evaluation).
    NoMaps,
}

impl PixelMetricsStatus {
    /// What a report says about it.
    pub fn describe(&self) -> String {
        match *self {
            Self::Computed => "computed".into(),
            Self::NoMasks { anomalous } => {
                format!("not computed: none of its {anomalous} anomalous images has a mask")
            }
            Self::SomeMasks {
                with_mask,
                without_mask,
            } => format!(
                "not computed: {without_mask} of its {} anomalous images have no mask",
                with_mask + without_mask
            ),
            Self::NoMaps => "not computed: no maps".into(),
        }
    }
}

/// Pixel inputs of one class: row-major `height × width` maps and masks
/// (mask non-zero = anomalous), all of the same size.
#[derive(Debug, Clone, Copy)]
pub struct PixelData<'a> {
    pub maps: &'a [&'a [f32]],
    pub masks: &'a [&'a [u8]],
    pub width: usize,
    pub height: usize,
}

/// Inputs of one class.
#[derive(Debug, Clone, Copy)]
pub struct ClassData<'a> {
    pub class_name: &'a str,
    pub image_scores: &'a [f32],
    pub image_labels: &'a [u8],
    /// `None` for a class evaluated at image level only.
    pub pixels: Option<PixelData<'a>>,
    /// Anomalous images without a mask (their masks in `pixels` are placeholders): when non-zero
    /// the pixel metrics are not computed.
    pub anomalous_without_mask: usize,
}

/// All metrics of one class (one sort for the pixels, one for the images).
pub fn evaluate_class(data: &ClassData, fpr_limit: f64) -> ClassResult {
    let image = BinaryMetrics::compute(data.image_scores, data.image_labels, MAX_CURVE_POINTS);
    let n_anomalous = data.image_labels.iter().filter(|&&l| l != 0).count();
    let without = data.anomalous_without_mask.min(n_anomalous);
    let pixel_metrics = match (data.pixels.is_some(), without) {
        (false, _) => PixelMetricsStatus::NoMaps,
        (true, 0) => PixelMetricsStatus::Computed,
        (true, w) if w == n_anomalous => PixelMetricsStatus::NoMasks {
            anomalous: n_anomalous,
        },
        (true, w) => PixelMetricsStatus::SomeMasks {
            with_mask: n_anomalous - w,
            without_mask: w,
        },
    };
    let pixels = data
        .pixels
        .filter(|_| pixel_metrics == PixelMetricsStatus::Computed);
    let pixel = pixels.map(|p| {
        PixelMetrics::compute(
            p.maps,
            p.masks,
            p.width,
            p.height,
            fpr_limit,
            MAX_CURVE_POINTS,
        )
    });
    let (pb, pro) = match pixel {
        Some(p) => (Some(p.binary), (p.aupro, p.pro)),
        None => (None, (None, Vec::new())),
    };
    ClassResult {
        class_name: data.class_name.to_string(),
        pixel_auroc: pb.as_ref().and_then(|b| b.auroc),
        pixel_ap: pb.as_ref().and_then(|b| b.ap),
        pixel_aupro: pro.0,
        pixel_f1_max: pb.as_ref().and_then(|b| b.f1_max),
        image_auroc: image.auroc,
        image_ap: image.ap,
        image_f1_max: image.f1_max,
        image_f1_threshold: image.f1_threshold,
        pixel_f1_threshold: pb.as_ref().and_then(|b| b.f1_threshold),
        n_normal: data.image_labels.len() - n_anomalous,
        n_anomalous,
        pixel_metrics,
        curves: Curves {
            pixel_roc: pb.as_ref().map(|b| b.roc.clone()).unwrap_or_default(),
            pixel_pr: pb.as_ref().map(|b| b.pr.clone()).unwrap_or_default(),
            pixel_pro: pro.1,
            image_roc: image.roc,
            image_pr: image.pr,
        },
    }
}

/// How an undefined class value enters the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Counted as 0 (the paper's protocol).
    Zero,
    /// Left out of the mean.
    Skip,
}

/// `round(x, 4) * 100`: a fraction as a percentage with two decimals, ties to
/// even on `x · 10⁴` (as `numpy.round(x, 4) * 100`).
pub fn paper_percent(x: f64) -> f64 {
    (x * 10_000.0).round_ties_even() / 100.0
}

/// The seven table columns, in order.
pub const COLUMNS: [&str; 7] = [
    "Pixel AUROC",
    "Pixel AP",
    "Pixel AUPRO",
    "Pixel F1-max",
    "Image AUROC",
    "Image AP",
    "Image F1-max",
];

impl ClassResult {
    /// The seven values in [`COLUMNS`] order.
    pub fn values(&self) -> [Option<f64>; 7] {
        [
            self.pixel_auroc,
            self.pixel_ap,
            self.pixel_aupro,
            self.pixel_f1_max,
            self.image_auroc,
            self.image_ap,
            self.image_f1_max,
        ]
    }

    fn has_pixels(&self) -> bool {
        !self.curves.pixel_roc.is_empty()
            || self.pixel_auroc.is_some()
            || self.pixel_ap.is_some()
            || self.pixel_aupro.is_some()
    }
}

/// The mean row, in percent (see the module documentation). A column is
/// `None` when no class has a value in it (e.g. no class has pixel maps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanRow {
    pub pixel_auroc: Option<f64>,
    pub pixel_ap: Option<f64>,
    pub pixel_aupro: Option<f64>,
    pub pixel_f1_max: Option<f64>,
    pub image_auroc: Option<f64>,
    pub image_ap: Option<f64>,
    pub image_f1_max: Option<f64>,
}

impl MeanRow {
    /// The seven values in [`COLUMNS`] order.
    pub fn values(&self) -> [Option<f64>; 7] {
        [
            self.pixel_auroc,
            self.pixel_ap,
            self.pixel_aupro,
            self.pixel_f1_max,
            self.image_auroc,
            self.image_ap,
            self.image_f1_max,
        ]
    }
}

/// The paper's dataset mean over `classes`, in percent.
pub fn paper_mean(classes: &[ClassResult], missing: Missing) -> MeanRow {
    let col = |i: usize| -> Option<f64> {
        let mut vals = Vec::new();
        for c in classes {
            // Pixel columns only count for classes that were evaluated on pixels.
            if i < 4 && !c.has_pixels() {
                continue;
            }
            match (c.values()[i], missing) {
                (Some(v), _) => vals.push(paper_percent(v)),
                (None, Missing::Zero) => vals.push(0.0),
                (None, Missing::Skip) => {}
            }
        }
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    };
    MeanRow {
        pixel_auroc: col(0),
        pixel_ap: col(1),
        pixel_aupro: col(2),
        pixel_f1_max: col(3),
        image_auroc: col(4),
        image_ap: col(5),
        image_f1_max: col(6),
    }
}

/// A misdetected image to show in the HTML report: an overlay as PNG bytes.
#[derive(Debug, Clone)]
pub struct Miss {
    pub class_name: String,
    pub file: String,
    /// Ground truth: 0 normal, otherwise anomalous.
    pub label: u8,
    pub score: f32,
    pub png: Vec<u8>,
}

/// A full evaluation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    /// Free-form run settings (model, image size, FPR limit, …).
    pub settings: serde_json::Value,
    pub missing: Missing,
    pub classes: Vec<ClassResult>,
    pub mean: MeanRow,
}

impl Report {
    /// A report with the paper's mean computed from `classes`.
    pub fn new(
        title: impl Into<String>,
        settings: serde_json::Value,
        classes: Vec<ClassResult>,
        missing: Missing,
    ) -> Self {
        let mean = paper_mean(&classes, missing);
        Report {
            title: title.into(),
            settings,
            missing,
            classes,
            mean,
        }
    }

    fn cell(&self, c: &ClassResult, i: usize) -> Option<String> {
        if i < 4 && !c.has_pixels() {
            return None;
        }
        match (c.values()[i], self.missing) {
            (Some(v), _) => Some(format!("{:.2}", paper_percent(v))),
            (None, Missing::Zero) => Some("0.00*".to_string()),
            (None, Missing::Skip) => None,
        }
    }

    fn has_undefined(&self) -> bool {
        self.classes.iter().any(|c| {
            c.values()
                .iter()
                .enumerate()
                .any(|(i, v)| v.is_none() && (i >= 4 || c.has_pixels()))
        })
    }

    /// The paper's table: one row per class and a mean row, values in %.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| Class |");
        for c in COLUMNS {
            let _ = write!(s, " {c} |");
        }
        s.push_str("\n|---|");
        for _ in COLUMNS {
            s.push_str("---:|");
        }
        s.push('\n');
        for c in &self.classes {
            let _ = write!(s, "| {} |", markdown_escape(&c.class_name));
            for i in 0..COLUMNS.len() {
                let _ = write!(s, " {} |", self.cell(c, i).unwrap_or_else(|| "–".into()));
            }
            s.push('\n');
        }
        s.push_str("| **Mean** |");
        for v in self.mean.values() {
            let _ = write!(s, " {} |", fmt_mean(v).unwrap_or_else(|| "–".into()));
        }
        s.push('\n');
        if self.has_undefined() {
            s.push_str(match self.missing {
                Missing::Zero => "\n\\* undefined (a single label in the class), counted as 0 as in the paper.\n",
                Missing::Skip => "\n– undefined (a single label in the class or no pixel maps), left out of the mean.\n",
            });
        }
        if let Some(note) = self.pixel_note() {
            s.push('\n');
            s.push_str(&note);
            s.push('\n');
        }
        s
    }

    /// Which classes have no pixel metrics and why (`None` when every class has them), and over
    /// how many classes the pixel means are taken.
    pub fn pixel_note(&self) -> Option<String> {
        let missing: Vec<&ClassResult> = self
            .classes
            .iter()
            .filter(|c| c.pixel_metrics != PixelMetricsStatus::Computed)
            .collect();
        if missing.is_empty() {
            return None;
        }
        let mut s = String::from("Pixel metrics ");
        let _ = write!(
            s,
            "({} of {} classes have them; the pixel means are over those): ",
            self.classes.len() - missing.len(),
            self.classes.len()
        );
        let parts: Vec<String> = missing
            .iter()
            .map(|c| format!("{} {}", c.class_name, c.pixel_metrics.describe()))
            .collect();
        s.push_str(&parts.join("; "));
        s.push('.');
        Some(s)
    }

    /// The report as pretty JSON (full-precision fractions per class, the
    /// mean row in percent).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// CSV with the table's values in % (two decimals; empty = undefined and
    /// left out), plus image counts. Full precision is in the JSON.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "class,n_normal,n_anomalous,pixel_auroc,pixel_ap,pixel_aupro,pixel_f1_max,image_auroc,image_ap,image_f1_max,pixel_metrics\n",
        );
        for c in &self.classes {
            let _ = write!(
                s,
                "{},{},{}",
                csv_field(&c.class_name),
                c.n_normal,
                c.n_anomalous
            );
            for i in 0..COLUMNS.len() {
                let cell = self.cell(c, i).map(|v| v.trim_end_matches('*').to_string());
                let _ = write!(s, ",{}", cell.unwrap_or_default());
            }
            let _ = writeln!(s, ",{}", csv_field(&c.pixel_metrics.describe()));
        }
        let (nn, na): (usize, usize) = self
            .classes
            .iter()
            .fold((0, 0), |a, c| (a.0 + c.n_normal, a.1 + c.n_anomalous));
        let _ = write!(s, "mean,{nn},{na}");
        for v in self.mean.values() {
            let _ = write!(s, ",{}", fmt_mean(v).unwrap_or_default());
        }
        s.push_str(",\n");
        s
    }

    /// A self-contained HTML page: the table, ROC / PR (and PRO) curves per
    /// class as inline SVG, and the `misses` as embedded PNG overlays. No
    /// external resources; every user string is escaped.
    pub fn to_html(&self, misses: &[Miss]) -> String {
        let mut h = String::new();
        let title = html_escape(&self.title);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        // Table.
        h.push_str("<h2>Results (%)</h2>\n<table>\n<thead><tr><th>Class</th>");
        for c in COLUMNS {
            let _ = write!(h, "<th>{c}</th>");
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for c in &self.classes {
            let _ = write!(h, "<tr><td>{}</td>", html_escape(&c.class_name));
            for i in 0..COLUMNS.len() {
                let _ = write!(
                    h,
                    "<td>{}</td>",
                    self.cell(c, i).unwrap_or_else(|| "–".into())
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("<tr class=\"mean\"><td>Mean</td>");
        for v in self.mean.values() {
            let _ = write!(h, "<td>{}</td>", fmt_mean(v).unwrap_or_else(|| "–".into()));
        }
        h.push_str("</tr>\n</tbody>\n</table>\n");
        if let Some(note) = self.pixel_note() {
            let _ = writeln!(h, "<p class=\"note\">{}</p>", html_escape(&note));
        }
        let _ = writeln!(
            h,
            "<p class=\"note\">Per class: round(x, 4)·100; mean: unweighted over classes; undefined values {}.</p>",
            match self.missing {
                Missing::Zero => "(marked *) count as 0, as in the paper",
                Missing::Skip => "(–) are left out",
            }
        );
        if !self.settings.is_null() {
            let pretty = serde_json::to_string_pretty(&self.settings).unwrap_or_default();
            let _ = writeln!(
                h,
                "<details><summary>Settings</summary><pre>{}</pre></details>",
                html_escape(&pretty)
            );
        }
        // Curves.
        h.push_str("<h2>Curves</h2>\n");
        for c in &self.classes {
            let _ = write!(
                h,
                "<section class=\"class\"><h3>{} <small>({} normal, {} anomalous images)</small></h3>\n<div class=\"plots\">",
                html_escape(&c.class_name),
                c.n_normal,
                c.n_anomalous
            );
            let k = &c.curves;
            if c.has_pixels() {
                h.push_str(&svg_plot(
                    "Pixel ROC",
                    "FPR",
                    "TPR",
                    &k.pixel_roc,
                    true,
                    c.pixel_auroc,
                    "AUROC",
                ));
                h.push_str(&svg_plot(
                    "Pixel PR",
                    "recall",
                    "precision",
                    &k.pixel_pr,
                    false,
                    c.pixel_ap,
                    "AP",
                ));
                h.push_str(&svg_plot(
                    "Pixel PRO",
                    "FPR (to limit)",
                    "PRO",
                    &k.pixel_pro,
                    false,
                    c.pixel_aupro,
                    "AUPRO",
                ));
            }
            h.push_str(&svg_plot(
                "Image ROC",
                "FPR",
                "TPR",
                &k.image_roc,
                true,
                c.image_auroc,
                "AUROC",
            ));
            h.push_str(&svg_plot(
                "Image PR",
                "recall",
                "precision",
                &k.image_pr,
                false,
                c.image_ap,
                "AP",
            ));
            h.push_str("</div></section>\n");
        }
        // Worst misses.
        h.push_str("<h2>Worst misses</h2>\n");
        if misses.is_empty() {
            h.push_str("<p>None given.</p>\n");
        } else {
            h.push_str("<div class=\"misses\">\n");
            for m in misses {
                let label = if m.label != 0 { "anomalous" } else { "normal" };
                let _ = writeln!(
                    h,
                    "<figure><img alt=\"{file}\" src=\"data:image/png;base64,{b64}\"><figcaption>{class} / {file}<br>label: {label}, score: {score:.4}</figcaption></figure>",
                    file = html_escape(&m.file),
                    class = html_escape(&m.class_name),
                    b64 = base64_encode(&m.png),
                    score = m.score,
                );
            }
            h.push_str("</div>\n");
        }
        h.push_str("</body>\n</html>\n");
        h
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}tr.mean td{font-weight:bold;background:#f4f4f4}\
.note{color:#555;font-size:.9em}.plots{display:flex;flex-wrap:wrap;gap:1em}\
svg{background:#fff;border:1px solid #ddd}svg text{font-size:11px;fill:#333}\
.misses{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;max-width:260px}\
figure img{max-width:256px;image-rendering:pixelated;border:1px solid #ccc}\
figcaption{font-size:.85em;word-break:break-all}";

fn fmt_mean(v: Option<f64>) -> Option<String> {
    v.map(|x| format!("{x:.2}"))
}

/// One curve in a 240×240 SVG with axes in `[0, 1]`.
fn svg_plot(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    pts: &[CurvePoint],
    diagonal: bool,
    value: Option<f64>,
    value_name: &str,
) -> String {
    let (x0, y0, size) = (34.0f32, 20.0f32, 190.0f32);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg width=\"240\" height=\"240\" viewBox=\"0 0 240 240\" role=\"img\"><title>{}</title>",
        html_escape(title)
    );
    let _ = write!(
        s,
        "<rect x=\"{x0}\" y=\"{y0}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>"
    );
    if diagonal {
        let _ = write!(
            s,
            "<line x1=\"{x0}\" y1=\"{}\" x2=\"{}\" y2=\"{y0}\" stroke=\"#ccc\" stroke-dasharray=\"4 3\"/>",
            y0 + size,
            x0 + size
        );
    }
    if !pts.is_empty() {
        s.push_str("<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\"");
        let xmax = if title.contains("PRO") {
            pts.iter().map(|p| p.0).fold(0.0f32, f32::max).max(1e-6)
        } else {
            1.0
        };
        for p in pts {
            let _ = write!(
                s,
                "{:.1},{:.1} ",
                x0 + p.0.clamp(0.0, xmax) / xmax * size,
                y0 + size - p.1.clamp(0.0, 1.0) * size
            );
        }
        s.push_str("\"/>");
    }
    let v = value
        .map(|v| format!("{value_name} {:.2}", paper_percent(v)))
        .unwrap_or_else(|| format!("{value_name} –"));
    let _ = write!(
        s,
        "<text x=\"{x0}\" y=\"14\">{} — {}</text><text x=\"{}\" y=\"236\" text-anchor=\"middle\">{}</text>\
<text x=\"10\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 10 {})\">{}</text><text x=\"{}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\">1</text></svg>",
        html_escape(title),
        html_escape(&v),
        x0 + size / 2.0,
        html_escape(xlabel),
        y0 + size / 2.0,
        y0 + size / 2.0,
        html_escape(ylabel),
        x0 - 10.0,
        y0 + size + 12.0,
        x0 - 10.0,
        y0 + 8.0,
    );
    s
}

/// Escapes `& < > " '` for HTML text and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes a Markdown table cell: `\` and `|` with a backslash, `& < >` as
/// HTML entities (so no renderer reads a name as a tag), newlines as spaces.
fn markdown_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// A CSV field, quoted when it holds a comma, quote or newline.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        o.push(T[(n >> 18) as usize & 63] as char);
        o.push(T[(n >> 12) as usize & 63] as char);
        o.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        o.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(i.as_bytes()), o);
        }
    }

    #[test]
    fn paper_rounding() {
        assert_eq!(paper_percent(0.912345), 91.23);
        assert_eq!(paper_percent(0.91235), 91.24);
        assert_eq!(paper_percent(1.0), 100.0);
    }
}
