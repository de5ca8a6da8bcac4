//! Reading anomaly-detection datasets into a flat, deterministically sorted sample list.
//!
//! Layouts:
//! * MVTec AD: `<root>/<class>/test/<defect>/NNN.png`, masks
//!   `<root>/<class>/ground_truth/<defect>/NNN_mask.png`, normal test images in `test/good/`,
//!   normal training images in `train/good/` (see [`Dataset::train_samples`]).
//! * VisA (1cls): `<root>/<class>/Data/Images/{Anomaly,Normal}/NNN.JPG`, masks
//!   `<root>/<class>/Data/Masks/Anomaly/NNN.png`.
//! * jsonl index: one JSON object per line,
//!   `{"image_path": rel, "label": 0|1, "class_name": str, "mask_path": rel}`.
//! * plain folders: `<root>/<class>/good/*`, `<root>/<class>/<defect>/*`, masks in
//!   `<root>/<class>/ground_truth/<defect>/<stem>[_mask].png`; the root may itself be one class.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{img_err, io_err, DataError, Result};

/// One image of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Image file.
    pub image: PathBuf,
    /// 0 = normal, 1 = anomalous.
    pub label: u8,
    /// Object/texture class.
    pub class_name: String,
    /// Defect type ("good" for normal images).
    pub defect: String,
    /// Ground-truth mask file (anomalous images only).
    pub mask: Option<PathBuf>,
}

impl Sample {
    /// Whether the sample is anomalous.
    pub fn is_anomalous(&self) -> bool {
        self.label == 1
    }

    /// Loads the image as RGB.
    pub fn load_image(&self) -> Result<RgbImage> {
        load_image(&self.image)
    }

    /// The binary mask at `width` x `height`: loaded for anomalous samples (error if missing),
    /// all zero for normal ones.
    pub fn load_mask(&self, width: u32, height: u32) -> Result<GrayImage> {
        match (&self.mask, self.label) {
            (Some(p), _) => load_mask(p, width, height),
            (None, 0) => Ok(GrayImage::new(width, height)),
            (None, _) => Err(DataError::MissingMask {
                image: self.image.clone(),
                expected: "a mask path".into(),
            }),
        }
    }
}

/// Dataset layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Detect from the directory structure (a `.jsonl` file root means [`Layout::Jsonl`]).
    Auto,
    /// MVTec AD.
    MvTec,
    /// VisA (1cls folders).
    VisA,
    /// jsonl index at this path (relative paths are tried as given, then under the root).
    Jsonl(PathBuf),
    /// Plain folders.
    Folder,
}

/// A parsed dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
    root: PathBuf,
    layout: Layout,
    samples: Vec<Sample>,
    train: Vec<Sample>,
}

const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io_err(dir))?;
    v.sort();
    Ok(v)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir() && !hidden(p))
        .collect())
}

fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| is_image(p) && !hidden(p))
        .collect())
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn stem_of(p: &Path) -> String {
    p.file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The class directories: `root` itself when it contains `marker`, else its subdirectories.
fn class_dirs(root: &Path, marker: &[&str]) -> Result<Vec<PathBuf>> {
    let m: PathBuf = marker.iter().collect();
    if root.join(m).is_dir() {
        Ok(vec![root.to_path_buf()])
    } else {
        subdirs(root)
    }
}

/// A class directory's name (canonicalised, so `.` works as a root).
fn class_name(dir: &Path) -> String {
    name_of(&fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
}

/// First existing `<dir>/<stem><suffix>.<ext>` over the usual mask names.
fn find_mask(dir: &Path, stem: &str) -> Option<PathBuf> {
    for suffix in ["_mask", ""] {
        for ext in ["png", "PNG", "bmp", "jpg", "tif", "tiff"] {
            let p = dir.join(format!("{stem}{suffix}.{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

impl Dataset {
    /// Reads the dataset at `root` with `layout`.
    pub fn open(root: impl AsRef<Path>, layout: Layout) -> Result<Dataset> {
        let root = root.as_ref();
        let (root, layout) = match layout {
            Layout::Auto => detect_layout(root)?,
            Layout::Jsonl(p) => {
                let p = if p.is_relative() && !p.exists() && root.join(&p).exists() {
                    root.join(p)
                } else {
                    p
                };
                (root.to_path_buf(), Layout::Jsonl(p))
            }
            other => (root.to_path_buf(), other),
        };
        if !root.is_dir() {
            return Err(DataError::Layout {
                path: root,
                message: "not a directory".into(),
            });
        }
        let (mut samples, mut train) = match &layout {
            Layout::MvTec => read_mvtec(&root)?,
            Layout::VisA => (read_visa(&root)?, Vec::new()),
            Layout::Jsonl(p) => (read_jsonl(&root, p)?, Vec::new()),
            Layout::Folder => (read_folder(&root)?, Vec::new()),
            Layout::Auto => unreachable!("resolved above"),
        };
        if samples.is_empty() && train.is_empty() {
            return Err(DataError::Layout {
                path: root,
                message: format!("no images found ({layout:?} layout)"),
            });
        }
        let key = |s: &Sample| (s.class_name.clone(), s.image.clone());
        samples.sort_by_key(key);
        train.sort_by_key(key);
        Ok(Dataset {
            root,
            layout,
            samples,
            train,
        })
    }

    /// The dataset root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The (resolved) layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Sorted class names (of evaluation and training samples).
    pub fn classes(&self) -> Vec<String> {
        let mut c: Vec<String> = self
            .samples
            .iter()
            .chain(&self.train)
            .map(|s| s.class_name.clone())
            .collect();
        c.sort();
        c.dedup();
        c
    }

    /// Evaluation samples, sorted by (class, image path).
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Normal training images (MVTec `train/good/`; empty for other layouts).
    pub fn train_samples(&self) -> &[Sample] {
        &self.train
    }

    /// Evaluation samples grouped by class.
    pub fn by_class(&self) -> BTreeMap<String, Vec<&Sample>> {
        let mut m: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
        for s in &self.samples {
            m.entry(s.class_name.clone()).or_default().push(s);
        }
        m
    }

    /// Keeps only the given classes (errors on an unknown class name).
    pub fn retain_classes(&mut self, classes: &[&str]) -> Result<()> {
        let known = self.classes();
        if let Some(bad) = classes.iter().find(|c| !known.iter().any(|k| k == *c)) {
            return Err(DataError::Layout {
                path: self.root.clone(),
                message: format!("unknown class {bad:?} (classes: {})", known.join(", ")),
            });
        }
        self.samples
            .retain(|s| classes.contains(&s.class_name.as_str()));
        self.train
            .retain(|s| classes.contains(&s.class_name.as_str()));
        Ok(())
    }
}

/// Detects the layout of `root`; returns the dataset root (the parent of a `.jsonl` file).
pub fn detect_layout(root: &Path) -> Result<(PathBuf, Layout)> {
    if root.is_file() {
        if root
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
        {
            let parent = root.parent().map(Path::to_path_buf).unwrap_or_default();
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent
            };
            return Ok((parent, Layout::Jsonl(root.to_path_buf())));
        }
        return Err(DataError::Layout {
            path: root.into(),
            message: "is a file but not a .jsonl index".into(),
        });
    }
    if !root.is_dir() {
        return Err(DataError::Layout {
            path: root.into(),
            message: "does not exist".into(),
        });
    }
    if root.join("good").is_dir() {
        return Ok((root.into(), Layout::Folder));
    }
    // A single MVTec / VisA class directory.
    if root.join("test").is_dir()
        && (root.join("train").is_dir() || root.join("ground_truth").is_dir())
    {
        return Ok((root.into(), Layout::MvTec));
    }
    if root.join("Data").join("Images").is_dir() {
        return Ok((root.into(), Layout::VisA));
    }
    let dirs = subdirs(root)?;
    if dirs.iter().any(|d| {
        d.join("test").is_dir() && (d.join("train").is_dir() || d.join("ground_truth").is_dir())
    }) {
        return Ok((root.into(), Layout::MvTec));
    }
    if dirs.iter().any(|d| d.join("Data").join("Images").is_dir()) {
        return Ok((root.into(), Layout::VisA));
    }
    if dirs.iter().any(|d| d.join("good").is_dir()) {
        return Ok((root.into(), Layout::Folder));
    }
    Err(DataError::Layout {
        path: root.into(),
        message:
            "cannot detect the layout (expected MVTec <class>/test, VisA <class>/Data/Images, \
                  folders <class>/good, or a .jsonl file)"
                .into(),
    })
}

fn read_mvtec(root: &Path) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let (mut test, mut train) = (Vec::new(), Vec::new());
    for cdir in class_dirs(root, &["test"])? {
        let test_dir = cdir.join("test");
        if !test_dir.is_dir() {
            continue; // e.g. a license folder
        }
        let class = class_name(&cdir);
        for ddir in subdirs(&test_dir)? {
            let defect = name_of(&ddir);
            let good = defect == "good";
            for img in images_in(&ddir)? {
                let mask = if good {
                    None
                } else {
                    let gt = cdir.join("ground_truth").join(&defect);
                    Some(find_mask(&gt, &stem_of(&img)).ok_or_else(|| {
                        DataError::MissingMask {
                            image: img.clone(),
                            expected: gt
                                .join(format!("{}_mask.png", stem_of(&img)))
                                .display()
                                .to_string(),
                        }
                    })?)
                };
                test.push(Sample {
                    image: img,
                    label: u8::from(!good),
                    class_name: class.clone(),
                    defect: defect.clone(),
                    mask,
                });
            }
        }
        let tdir = cdir.join("train").join("good");
        if tdir.is_dir() {
            for img in images_in(&tdir)? {
                train.push(Sample {
                    image: img,
                    label: 0,
                    class_name: class.clone(),
                    defect: "good".into(),
                    mask: None,
                });
            }
        }
    }
    Ok((test, train))
}

fn read_visa(root: &Path) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for cdir in class_dirs(root, &["Data", "Images"])? {
        let images = cdir.join("Data").join("Images");
        if !images.is_dir() {
            continue;
        }
        let class = class_name(&cdir);
        let normal = images.join("Normal");
        if normal.is_dir() {
            for img in images_in(&normal)? {
                out.push(Sample {
                    image: img,
                    label: 0,
                    class_name: class.clone(),
                    defect: "good".into(),
                    mask: None,
                });
            }
        }
        let anomaly = images.join("Anomaly");
        if anomaly.is_dir() {
            let mdir = cdir.join("Data").join("Masks").join("Anomaly");
            for img in images_in(&anomaly)? {
                let mask =
                    find_mask(&mdir, &stem_of(&img)).ok_or_else(|| DataError::MissingMask {
                        image: img.clone(),
                        expected: mdir
                            .join(format!("{}.png", stem_of(&img)))
                            .display()
                            .to_string(),
                    })?;
                out.push(Sample {
                    image: img,
                    label: 1,
                    class_name: class.clone(),
                    defect: "anomaly".into(),
                    mask: Some(mask),
                });
            }
        }
    }
    Ok(out)
}

fn read_jsonl(root: &Path, index: &Path) -> Result<Vec<Sample>> {
    let text = fs::read_to_string(index).map_err(io_err(index))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| DataError::Jsonl {
            path: index.to_path_buf(),
            line: line_no,
            message,
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("expected a JSON object".into()))?;
        let get_str = |k: &str| {
            obj.get(k)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
        };
        let image_rel =
            get_str("image_path").ok_or_else(|| err("missing \"image_path\" string".into()))?;
        let class_name = get_str("class_name")
            .ok_or_else(|| err("missing \"class_name\" string".into()))?
            .to_string();
        let label = match obj.get("label") {
            None => return Err(err("missing \"label\"".into())),
            Some(l) => match (l.as_u64(), l.as_str(), l.as_bool()) {
                (Some(0), _, _) | (_, Some("0"), _) | (_, _, Some(false)) => 0u8,
                (Some(1), _, _) | (_, Some("1"), _) | (_, _, Some(true)) => 1u8,
                _ => return Err(err(format!("unknown label {l} (expected 0 or 1)"))),
            },
        };
        let image = root.join(image_rel);
        if !image.is_file() {
            return Err(err(format!("image {} does not exist", image.display())));
        }
        let mask = match get_str("mask_path") {
            Some(m) if label == 1 => {
                let p = root.join(m);
                if !p.is_file() {
                    return Err(err(format!("mask {} does not exist", p.display())));
                }
                Some(p)
            }
            Some(_) => None, // a normal image's mask (if any) is all zero by definition
            None if label == 1 => {
                return Err(err(format!(
                    "anomalous image {image_rel} has no \"mask_path\""
                )))
            }
            None => None,
        };
        // Defect: an explicit field, else the image's folder name (MVTec-style paths).
        let defect = if label == 0 {
            "good".to_string()
        } else {
            get_str("defect")
                .or_else(|| get_str("specie_name"))
                .map(str::to_string)
                .or_else(|| {
                    Path::new(image_rel)
                        .parent()
                        .map(name_of)
                        .filter(|n| !n.is_empty())
                })
                .unwrap_or_else(|| "anomaly".into())
        };
        out.push(Sample {
            image,
            label,
            class_name,
            defect,
            mask,
        });
    }
    Ok(out)
}

fn read_folder(root: &Path) -> Result<Vec<Sample>> {
    let class_dirs: Vec<PathBuf> = if root.join("good").is_dir() {
        vec![root.to_path_buf()]
    } else {
        subdirs(root)?
            .into_iter()
            .filter(|d| d.join("good").is_dir())
            .collect()
    };
    let mut out = Vec::new();
    for cdir in class_dirs {
        let class = class_name(&cdir);
        for ddir in subdirs(&cdir)? {
            let defect = name_of(&ddir);
            if defect == "ground_truth" {
                continue;
            }
            let good = defect == "good";
            let gt = cdir.join("ground_truth").join(&defect);
            for img in images_in(&ddir)? {
                let mask = if good {
                    None
                } else {
                    Some(find_mask(&gt, &stem_of(&img)).ok_or_else(|| {
                        DataError::MissingMask {
                            image: img.clone(),
                            expected: gt
                                .join(format!("{}[_mask].png", stem_of(&img)))
                                .display()
                                .to_string(),
                        }
                    })?)
                };
                out.push(Sample {
                    image: img,
                    label: u8::from(!good),
                    class_name: class.clone(),
                    defect: defect.clone(),
                    mask,
                });
            }
        }
    }
    Ok(out)
}

/// Loads an image file as RGB.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    Ok(image::open(path).map_err(img_err(path))?.into_rgb8())
}

/// Loads a mask as binary 0/255 (any non-zero colour channel -> 255, alpha ignored, 16-bit
/// aware), resized with nearest neighbour to `width` x `height` if needed.
pub fn load_mask(path: &Path, width: u32, height: u32) -> Result<GrayImage> {
    let img = image::open(path).map_err(img_err(path))?;
    Ok(binarize_mask(&img, width, height))
}

/// Binarises (non-zero -> 255) and nearest-resizes a decoded mask.
pub fn binarize_mask(img: &DynamicImage, width: u32, height: u32) -> GrayImage {
    let rgb = img.to_rgb16(); // widening keeps every non-zero value non-zero
    let (sw, sh) = rgb.dimensions();
    let bin = GrayImage::from_fn(sw, sh, |x, y| {
        image::Luma([if rgb.get_pixel(x, y).0.iter().any(|&v| v != 0) {
            255
        } else {
            0
        }])
    });
    if (sw, sh) == (width, height) {
        return bin;
    }
    GrayImage::from_fn(width, height, |x, y| {
        // Nearest: the source pixel containing the destination pixel centre (integer math).
        let sx = ((2 * x as u64 + 1) * sw as u64 / (2 * width as u64)).min(sw as u64 - 1) as u32;
        let sy = ((2 * y as u64 + 1) * sh as u64 / (2 * height as u64)).min(sh as u64 - 1) as u32;
        *bin.get_pixel(sx, sy)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn png(path: &Path, v: u8) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        GrayImage::from_pixel(4, 4, image::Luma([v]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn mvtec_layout() {
        let t = TempDir::new("mvtec");
        let r = t.path();
        png(&r.join("bottle/train/good/000.png"), 10);
        png(&r.join("bottle/test/good/000.png"), 10);
        png(&r.join("bottle/test/broken/001.png"), 10);
        png(&r.join("bottle/test/broken/000.png"), 10);
        png(&r.join("bottle/ground_truth/broken/000_mask.png"), 255);
        png(&r.join("bottle/ground_truth/broken/001_mask.png"), 255);
        png(&r.join("cable/test/good/000.png"), 10);
        png(&r.join("cable/train/good/000.png"), 10);
        fs::write(r.join("license.txt"), "x").unwrap();
        let d = Dataset::open(r, Layout::Auto).unwrap();
        assert_eq!(d.layout(), &Layout::MvTec);
        assert_eq!(d.classes(), vec!["bottle", "cable"]);
        assert_eq!(d.samples().len(), 4);
        assert_eq!(d.train_samples().len(), 2);
        let s = &d.samples()[0];
        assert_eq!(
            (s.class_name.as_str(), s.defect.as_str(), s.label),
            ("bottle", "broken", 1)
        );
        assert!(s
            .mask
            .as_ref()
            .unwrap()
            .ends_with("ground_truth/broken/000_mask.png"));
        assert!(d.samples()[1].image.ends_with("broken/001.png"));
        assert_eq!(d.samples()[2].label, 0);
        assert_eq!(d.by_class()["bottle"].len(), 3);
        // A single class directory works too.
        let one = Dataset::open(r.join("cable"), Layout::Auto).unwrap();
        assert_eq!(
            (one.layout(), one.classes()),
            (&Layout::MvTec, vec!["cable".to_string()])
        );
        // Missing mask -> error naming the image.
        fs::remove_file(r.join("bottle/ground_truth/broken/001_mask.png")).unwrap();
        let e = Dataset::open(r, Layout::MvTec).unwrap_err().to_string();
        assert!(e.contains("001.png") && e.contains("no mask"), "{e}");
    }

    #[test]
    fn visa_layout() {
        let t = TempDir::new("visa");
        let r = t.path();
        png(&r.join("candle/Data/Images/Normal/0000.JPG"), 1);
        png(&r.join("candle/Data/Images/Anomaly/000.JPG"), 1);
        png(&r.join("candle/Data/Masks/Anomaly/000.png"), 255);
        let d = Dataset::open(r, Layout::Auto).unwrap();
        assert_eq!(d.layout(), &Layout::VisA);
        assert_eq!(d.samples().len(), 2);
        let a = d.samples().iter().find(|s| s.label == 1).unwrap();
        assert!(a.mask.as_ref().unwrap().ends_with("Masks/Anomaly/000.png"));
        assert_eq!(a.class_name, "candle");
        let one = Dataset::open(r.join("candle"), Layout::Auto).unwrap();
        assert_eq!(one.samples(), d.samples());
    }

    #[test]
    fn jsonl_layout_and_errors() {
        let t = TempDir::new("jsonl");
        let r = t.path();
        png(&r.join("a/test/good/0.png"), 1);
        png(&r.join("a/test/hole/1.png"), 1);
        png(&r.join("a/gt/hole/1.png"), 1);
        let good = r#"{"image_path": "a/test/good/0.png", "label": 0, "class_name": "a"}"#;
        let bad = r#"{"image_path": "a/test/hole/1.png", "label": 1, "class_name": "a", "mask_path": "a/gt/hole/1.png"}"#;
        fs::write(r.join("index.jsonl"), format!("{good}\n\n{bad}\n")).unwrap();
        let d = Dataset::open(r.join("index.jsonl"), Layout::Auto).unwrap();
        assert_eq!(d.samples().len(), 2);
        assert_eq!(d.samples()[1].defect, "hole");
        let d2 = Dataset::open(r, Layout::Jsonl("index.jsonl".into())).unwrap();
        assert_eq!(d2.samples(), d.samples());

        let cases = [
            (format!("{good}\nnot json\n"), 2, "invalid JSON"),
            (
                format!("{good}\n{}\n", bad.replace("\"label\": 1", "\"label\": 2")),
                2,
                "unknown label",
            ),
            (
                format!(
                    "{}\n",
                    bad.replace(r#", "mask_path": "a/gt/hole/1.png""#, "")
                ),
                1,
                "no \"mask_path\"",
            ),
            (
                format!("{good}\n{good}\n{}\n", good.replace("0.png", "9.png")),
                3,
                "does not exist",
            ),
        ];
        for (text, line, what) in cases {
            fs::write(r.join("bad.jsonl"), text).unwrap();
            let e = Dataset::open(r, Layout::Jsonl(r.join("bad.jsonl"))).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, DataError::Jsonl { line: l, .. } if l == line),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("bad.jsonl:{line}:")) && msg.contains(what),
                "{msg}"
            );
        }
    }

    #[test]
    fn folder_layout_multi_and_single_class() {
        let t = TempDir::new("folder");
        let r = t.path();
        png(&r.join("tiles/good/a.png"), 1);
        png(&r.join("tiles/crack/b.png"), 1);
        png(&r.join("tiles/crack/c.png"), 1);
        png(&r.join("tiles/ground_truth/crack/b_mask.png"), 255);
        png(&r.join("tiles/ground_truth/crack/c.png"), 255);
        let d = Dataset::open(r, Layout::Auto).unwrap();
        assert_eq!(d.layout(), &Layout::Folder);
        assert_eq!(d.samples().len(), 3);
        assert!(d
            .samples()
            .iter()
            .filter(|s| s.label == 1)
            .all(|s| s.mask.is_some() && s.defect == "crack"));
        let one = Dataset::open(r.join("tiles"), Layout::Auto).unwrap();
        assert_eq!(one.classes(), vec!["tiles"]);
        assert_eq!(one.samples().len(), 3);
        png(&r.join("tiles/crack/d.png"), 1);
        assert!(matches!(
            Dataset::open(r, Layout::Folder),
            Err(DataError::MissingMask { .. })
        ));
        let empty = TempDir::new("empty");
        assert!(Dataset::open(empty.path(), Layout::Auto).is_err());
    }

    #[test]
    fn mask_binarisation_and_resize() {
        let t = TempDir::new("masks");
        let mut m = GrayImage::new(4, 2);
        m.put_pixel(0, 0, image::Luma([1]));
        m.put_pixel(3, 1, image::Luma([255]));
        let p = t.path().join("m.png");
        m.save(&p).unwrap();
        let b = load_mask(&p, 4, 2).unwrap();
        assert_eq!(b.get_pixel(0, 0).0[0], 255);
        assert_eq!(b.get_pixel(3, 1).0[0], 255);
        assert_eq!(b.as_raw().iter().filter(|&&v| v == 255).count(), 2);
        assert!(b.as_raw().iter().all(|&v| v == 0 || v == 255));
        let big = load_mask(&p, 8, 4).unwrap();
        assert_eq!(big.get_pixel(0, 0).0[0], 255);
        assert_eq!(big.get_pixel(1, 1).0[0], 255);
        assert_eq!(big.get_pixel(7, 3).0[0], 255);
        assert_eq!(big.as_raw().iter().filter(|&&v| v == 255).count(), 8);
        // 16-bit mask with value 1 and an RGB mask with a faint red channel.
        let d16 =
            DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(2, 2, image::Luma([1u16])));
        assert!(binarize_mask(&d16, 2, 2).as_raw().iter().all(|&v| v == 255));
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, image::Rgb([1, 0, 0])));
        assert!(binarize_mask(&rgb, 1, 1).as_raw().iter().all(|&v| v == 255));
        // Normal sample -> zero mask; anomalous without mask -> error.
        let s = Sample {
            image: p.clone(),
            label: 0,
            class_name: "x".into(),
            defect: "good".into(),
            mask: None,
        };
        assert!(s.load_mask(3, 3).unwrap().as_raw().iter().all(|&v| v == 0));
        let s = Sample { label: 1, ..s };
        assert!(s.load_mask(3, 3).is_err());
    }
}
