//! Reading anomaly-detection datasets into a flat, deterministically sorted sample list.
//!
//! Layouts:
//! * MVTec AD: `<root>/<class>/test/<defect>/NNN.png`, masks
//!   `<root>/<class>/ground_truth/<defect>/NNN_mask.png`, normal test images in `test/good/`,
//!   normal training images in `train/good/` (see [`Dataset::train_samples`]).
//! * VisA (1cls): `<root>/<class>/Data/Images/{Anomaly,Normal}/NNN.JPG`, masks
//!   `<root>/<class>/Data/Masks/Anomaly/NNN.png`.
//! * index files ([`crate::index`]): jsonl, one JSON object per line,
//!   `{"image_path": rel, "label": 0|1, "class_name": str, "mask_path": rel}`, or CSV/TSV with a
//!   header row; any column names (a mapping), labels as numbers with a cut-off; masks optional.
//! * plain folders: `<root>/<class>/good/*`, `<root>/<class>/<defect>/*` (every folder but `good`
//!   anomalous), masks optional in `<root>/<class>/ground_truth/<defect>/<stem>[_mask].png`; the
//!   root may itself be one class.
//!
//! An anomalous sample without a mask has an image label only: it counts for image metrics and
//! not for pixel metrics (MVTec AD and VisA always have masks, so there a missing one is an error).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{img_err, io_err, DataError, Result};
use crate::index::{is_index_file, read_index, IndexSpec};

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
    /// Ground-truth mask file (anomalous images only; `None` for an image-level label).
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
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// Detect from the directory structure (a `.jsonl`, `.csv` or `.tsv` file root means
    /// [`Layout::Index`] with the usual column names).
    Auto,
    /// MVTec AD.
    MvTec,
    /// VisA (1cls folders).
    VisA,
    /// An index file (relative paths are tried as given, then under the root).
    Index(IndexSpec),
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
            Layout::Index(mut spec) => {
                if spec.path.is_relative() && !spec.path.exists() && root.join(&spec.path).exists()
                {
                    spec.path = root.join(&spec.path);
                }
                // Given the index file itself, its folder is the root of its relative paths.
                let root = if root.is_file() {
                    parent_or_dot(root)
                } else {
                    root.to_path_buf()
                };
                (root, Layout::Index(spec))
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
            Layout::Index(spec) => (read_index(&root, spec)?, Vec::new()),
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

/// The folder of a file (`.` for a bare file name).
fn parent_or_dot(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Detects the layout of `root`; returns the dataset root (the folder of an index file).
pub fn detect_layout(root: &Path) -> Result<(PathBuf, Layout)> {
    if root.is_file() {
        if is_index_file(root) {
            return Ok((parent_or_dot(root), Layout::Index(IndexSpec::new(root))));
        }
        return Err(DataError::Layout {
            path: root.into(),
            message: "is a file but not an index (.jsonl, .csv or .tsv)".into(),
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
                  folders <class>/good, or a .jsonl/.csv index file)"
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
                // Masks are optional here: without one the image has an image-level label.
                let mask = if good {
                    None
                } else {
                    find_mask(&gt, &stem_of(&img))
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
        let d2 = Dataset::open(r, Layout::Index(IndexSpec::new("index.jsonl"))).unwrap();
        assert_eq!(d2.samples(), d.samples());

        let cases = [
            (format!("{good}\nnot json\n"), 2, "invalid JSON"),
            (
                format!("{good}\n{}\n", bad.replace("\"label\": 1", "\"label\": 2")),
                2,
                "neither 0 nor 1",
            ),
            (
                format!("{}\n", bad.replace("a/gt/hole/1.png", "a/gt/hole/9.png")),
                1,
                "mask",
            ),
            (
                format!("{good}\n{good}\n{}\n", good.replace("0.png", "9.png")),
                3,
                "does not exist",
            ),
        ];
        for (text, line, what) in cases {
            fs::write(r.join("bad.jsonl"), text).unwrap();
            let e =
                Dataset::open(r, Layout::Index(IndexSpec::new(r.join("bad.jsonl")))).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, DataError::Index { line: l, .. } if l == line),
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
        // An anomalous image without a mask has an image-level label.
        png(&r.join("tiles/crack/d.png"), 1);
        png(&r.join("tiles/scratch/e.png"), 1);
        let d = Dataset::open(r, Layout::Folder).unwrap();
        let no_mask: Vec<_> = d
            .samples()
            .iter()
            .filter(|s| s.mask.is_none())
            .map(|s| (name_of(&s.image), s.label, s.defect.clone()))
            .collect();
        assert_eq!(
            no_mask,
            vec![
                ("d.png".to_string(), 1, "crack".to_string()),
                ("a.png".to_string(), 0, "good".to_string()),
                ("e.png".to_string(), 1, "scratch".to_string())
            ]
        );
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
