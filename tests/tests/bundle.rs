//! Model bundles: export the official fixture's model, load it back, and get the official scores
//! (f32: within the parity tolerance; int8: maps within 0.02 and scores within 0.01 of f32, at
//! ≤ 27% of the f32 weight bytes); damaged bundles are refused with the bad file named.

use std::collections::HashMap;

use acd_core::clip::tokenizer::ClipTokenizer;
use acd_core::model::{AcdClip, TokenBatch};
use acd_core::prompts::prompt_tokens;
use acd_core::trace::Trace;
use acd_core::weights::bundle::{
    export_bundle, load_bundle, load_bundle_checked, parse_manifest, sha256_hex, BundleError,
    BundleFiles, CategoryEntry, ExportOptions, FileCheck, FileEntry, Manifest, VOCAB_FILE,
};
use acd_core::weights::load::{load_acd_clip, load_clip_only};
use acd_core::weights::quantize::Precision;
use acd_core::weights::TensorStore;
use acd_core::{Detector, Head};
use acd_fixture::official::{read_fixture, FixtureConfig};
use acd_parity::official_fixture_dir;

type Cpu = burn::backend::NdArray<f32>;

/// The normal and abnormal prompt ensembles of the category "dark bottle", tokenized.
fn dark_bottle_prompts() -> (TokenBatch, TokenBatch) {
    prompt_tokens(&ClipTokenizer::new(), "dark bottle").unwrap()
}

fn fixture_model() -> (
    AcdClip<Cpu>,
    acd_core::AcdClipConfig,
    Vec<(CategoryEntry, burn::tensor::Tensor<Cpu, 3>)>,
) {
    let files = read_fixture(&official_fixture_dir()).unwrap();
    let (mut store, fixture) = acd_parity::fixture_weights(&files);
    let cfg = fixture.model;
    let device = Default::default();
    let model = load_acd_clip::<Cpu>(&mut store, &cfg, true, &device).unwrap();
    let (normal, abnormal) = dark_bottle_prompts();
    let emb = model
        .class_embedding(&cfg, &normal, &abnormal, &device, &mut Trace::off())
        .unwrap();
    let cats = vec![(
        CategoryEntry {
            key: "bottle".into(),
            real_name: "dark bottle".into(),
            reference: None,
            calibration: None,
        },
        emb,
    )];
    (model, cfg, cats)
}

fn export(precision: Precision, with_text: bool) -> (Manifest, HashMap<String, Vec<u8>>) {
    let (model, cfg, cats) = fixture_model();
    let options = ExportOptions {
        name: "fixture".into(),
        description: String::new(),
        trained_on: None,
        untrained: true,
        precision,
        with_text_tower: with_text,
        max_shard_bytes: 1 << 20, // small shards so that sharding is exercised
        head: Head::AcdClip,
    };
    let (manifest, files) = export_bundle(&model, &cfg, &cats, &options).unwrap();
    // The manifest survives its JSON form.
    let manifest = parse_manifest(&serde_json::to_string(&manifest).unwrap()).unwrap();
    (manifest, files.into_iter().collect())
}

/// A manifest whose file list would reach outside the bundle folder (the CLI joins each name to
/// the bundle's directory, the page to its URL), repeats a file, declares a size no shard can have
/// or carries no hash is refused before any file is read, naming the entry.
#[test]
fn a_manifest_listing_unsafe_or_malformed_files_is_refused_naming_the_entry() {
    use serde_json::{json, Value};
    let (manifest, _) = export(Precision::F32, false);
    let good = serde_json::to_value(&manifest).unwrap();
    let first = good["files"][0].clone();
    let entry = |key: &str, value: Value| {
        let mut e = first.clone();
        e[key] = value;
        e
    };
    let mut cases: Vec<(Value, &str)> = vec![
        (json!([]), "lists no files"),
        (
            json!([first.clone(), first.clone()]),
            "files[1]: weights-00000.safetensors is listed twice",
        ),
        (
            json!([entry("bytes", json!(1u64 << 40))]),
            "files[0]: weights-00000.safetensors declares 1099511627776 bytes, over the limit",
        ),
        (
            json!([entry("sha256", json!("xyz"))]),
            "files[0]: weights-00000.safetensors has no valid sha256",
        ),
        (
            json!([entry("sha256", json!("g".repeat(64)))]),
            "has no valid sha256",
        ),
    ];
    for name in [
        "../secret",
        "a/../../b",
        "/etc/passwd",
        "https://evil.example/w.safetensors",
        "",
        "a//b",
        ".hidden",
        "-rf",
        "C:\\w.safetensors",
        "w\u{0}.safetensors",
    ] {
        cases.push((
            json!([entry("file", json!(name))]),
            "is not a plain relative path",
        ));
    }
    for (files, want) in cases {
        let mut v = good.clone();
        v["files"] = files.clone();
        let err = parse_manifest(&v.to_string())
            .expect_err(&format!("files {files} were accepted"))
            .to_string();
        assert!(
            err.contains(want),
            "files {files}: {err:?} does not say {want:?}"
        );
    }
    assert_eq!(first["file"], "weights-00000.safetensors");
    assert!(parse_manifest(&good.to_string()).is_ok());
}

fn detect_all(
    manifest: &Manifest,
    files: &HashMap<String, Vec<u8>>,
    category: &str,
) -> Vec<(f32, Vec<f32>)> {
    let device = Default::default();
    let mut det = Detector::from_bundle(
        load_bundle::<Cpu>(manifest, files, &device).unwrap(),
        device,
    );
    let images = official_fixture_dir().join("images");
    ["image0.png", "image1.png"]
        .iter()
        .map(|f| {
            let d = det
                .detect(&std::fs::read(images.join(f)).unwrap(), category)
                .unwrap();
            (d.score, d.map)
        })
        .collect()
}

fn weight_bytes(m: &Manifest) -> u64 {
    m.files
        .iter()
        .filter(|f| f.file.starts_with("weights-"))
        .map(|f| f.bytes)
        .sum()
}

#[test]
fn bundles_reproduce_the_official_scores_and_int8_stays_close() {
    let io = std::fs::read(official_fixture_dir().join("io.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&io).unwrap();
    let official: Vec<f32> = st
        .tensor("output.image_score_final")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();

    let (m32, f32_files) = export(Precision::F32, false);
    assert!(
        m32.files.len() > 2,
        "1 MiB shards: expected several weight files"
    );
    let r32 = detect_all(&m32, &f32_files, "bottle");
    for ((score, _), want) in r32.iter().zip(&official) {
        assert!(
            (score - want).abs() <= 1e-4 * want,
            "f32 bundle score {score} vs official {want}"
        );
    }
    for precision in [Precision::F16, Precision::Int8] {
        let (m, files) = export(precision, false);
        let r = detect_all(&m, &files, "bottle");
        let mut max_map = 0f32;
        let mut max_score = 0f32;
        for ((s, map), (s32, map32)) in r.iter().zip(&r32) {
            max_score = max_score.max((s - s32).abs());
            max_map = map
                .iter()
                .zip(map32)
                .fold(max_map, |m, (a, b)| m.max((a - b).abs()));
        }
        let ratio = weight_bytes(&m) as f64 / weight_bytes(&m32) as f64;
        eprintln!("{precision:?}: weights {:.1}% of f32, max map diff {max_map:.2e}, max score diff {max_score:.2e}", 100.0 * ratio);
        assert!(
            max_map <= 0.02 && max_score <= 0.01,
            "{precision:?} too far from f32"
        );
        if precision == Precision::Int8 {
            assert!(
                ratio <= 0.27,
                "int8 weights are {:.1}% of f32",
                100.0 * ratio
            );
        }
    }
}

#[test]
fn a_bundle_with_the_text_tower_embeds_free_text() {
    let (m, files) = export(Precision::F32, true);
    assert!(m.has_text_tower);
    // The bundle carries CLIP's vocabulary (the page has none built in) and its loader uses it.
    assert!(m.files.iter().any(|f| f.file == VOCAB_FILE));
    let device = Default::default();
    let bundle = load_bundle::<Cpu>(&m, &files, &device).unwrap();
    assert!(bundle.tokenizer.is_some());
    let mut det = Detector::from_bundle(bundle, device);
    let img = std::fs::read(official_fixture_dir().join("images/image1.png")).unwrap();
    let known = det.detect(&img, "bottle").unwrap().score;
    let free = det.detect(&img, "a dark bottle").unwrap().score; // different prompts
    assert!(free.is_finite() && (free - known).abs() > 0.0);

    // A bundle written before the vocabulary was added loads and, natively, uses the built-in
    // one: the same free-text score.
    let (mut old, mut old_files) = (m.clone(), files.clone());
    old.files.retain(|f| f.file != VOCAB_FILE);
    old_files.remove(VOCAB_FILE);
    let bundle = load_bundle::<Cpu>(&old, &old_files, &device).unwrap();
    assert!(bundle.tokenizer.is_none());
    let mut det = Detector::from_bundle(bundle, device);
    assert_eq!(det.detect(&img, "a dark bottle").unwrap().score, free);

    // A damaged vocabulary (its manifest entry matching, as a bundle author's mistake would) is
    // refused naming the file.
    let (mut bad, mut bad_files) = (m.clone(), files.clone());
    let garbage = b"not a vocabulary".to_vec();
    let entry = bad.files.iter_mut().find(|f| f.file == VOCAB_FILE).unwrap();
    entry.bytes = garbage.len() as u64;
    entry.sha256 = sha256_hex(&garbage);
    bad_files.insert(VOCAB_FILE.to_string(), garbage);
    let err = load_bundle::<Cpu>(&bad, &bad_files, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(VOCAB_FILE) && err.contains("vocabulary"),
        "{err}"
    );
    // Without the text tower an unknown category is a clear error.
    let (m, files) = export(Precision::F32, false);
    let mut det = Detector::from_bundle(load_bundle::<Cpu>(&m, &files, &device).unwrap(), device);
    let err = det.detect(&img, "a rusty gear").unwrap_err().to_string();
    assert!(
        err.contains("a rusty gear") && err.contains("text tower"),
        "{err}"
    );
}

#[test]
fn damaged_bundles_are_refused_naming_the_file() {
    let (m, files) = export(Precision::Int8, false);
    let device = Default::default();
    let shard = m
        .files
        .iter()
        .find(|f| f.file.starts_with("weights-"))
        .unwrap()
        .file
        .clone();

    let mut tampered = files.clone();
    tampered.get_mut(&shard).unwrap()[100] ^= 0x55;
    match load_bundle::<Cpu>(&m, &tampered, &device) {
        Err(BundleError::Checksum { file }) => assert_eq!(file, shard),
        other => panic!("tampered shard: {:?}", other.err().map(|e| e.to_string())),
    }
    let mut truncated = files.clone();
    truncated.get_mut(&shard).unwrap().truncate(1000);
    let err = load_bundle::<Cpu>(&m, &truncated, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&shard) && err.contains("1000 bytes"), "{err}");
    // When the caller has checked the hashes (the page), sizes are still checked here.
    let err = load_bundle_checked::<Cpu>(&m, &truncated, &device, FileCheck::SizeOnly)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&shard) && err.contains("1000 bytes"), "{err}");
    let mut missing = files.clone();
    missing.remove("text.safetensors");
    let err = load_bundle::<Cpu>(&m, &missing, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("text.safetensors") && err.contains("missing"),
        "{err}"
    );

    let mut json: serde_json::Value = serde_json::to_value(&m).unwrap();
    json["version"] = 7.into();
    let err = parse_manifest(&json.to_string()).unwrap_err().to_string();
    assert!(err.contains("version 7"), "{err}");
    let err = parse_manifest("{\"format\": \"something-else\"}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("something-else"), "{err}");
}

/// A source that counts how often each file is read.
struct CountingFiles<'a> {
    files: &'a HashMap<String, Vec<u8>>,
    reads: HashMap<String, usize>,
}

impl BundleFiles for &mut CountingFiles<'_> {
    fn size(&self, file: &str) -> Option<u64> {
        self.files.get(file).map(|b| b.len() as u64)
    }

    fn read<R>(&mut self, file: &str, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        *self.reads.entry(file.to_string()).or_default() += 1;
        self.files.get(file).map(|b| read(b))
    }
}

/// The loader reads each file once (so the page can copy a shard in when it is decoded and free
/// it right after), reads every listed file when it checks hashes, and refuses a damaged file the
/// model does not use.
#[test]
fn each_bundle_file_is_read_once_and_every_listed_file_is_verified() {
    let (m, files) = export(Precision::Int8, true);
    let device = Default::default();
    for check in [FileCheck::Sha256, FileCheck::SizeOnly] {
        let mut source = CountingFiles {
            files: &files,
            reads: HashMap::new(),
        };
        load_bundle_checked::<Cpu>(&m, &mut source, &device, check).unwrap();
        for entry in &m.files {
            let reads = source.reads.get(&entry.file).copied().unwrap_or(0);
            assert_eq!(reads, 1, "{} read {reads} times ({check:?})", entry.file);
        }
    }

    let mut with_notes = m.clone();
    let mut files = files.clone();
    files.insert("notes.txt".into(), b"written by hand".to_vec());
    with_notes.files.push(FileEntry {
        file: "notes.txt".into(),
        bytes: 15,
        sha256: sha256_hex(b"written by someone else"),
    });
    match load_bundle::<Cpu>(&with_notes, &files, &device) {
        Err(BundleError::Checksum { file }) => assert_eq!(file, "notes.txt"),
        other => panic!(
            "unused damaged file: {:?}",
            other.err().map(|e| e.to_string())
        ),
    }
}

/// `acd export --training-free`: CLIP alone (projection heads, no adapters) in a bundle detects
/// exactly as the training-free detector built from the weights themselves.
#[test]
fn a_training_free_bundle_equals_the_direct_training_free_detector() {
    let files = read_fixture(&official_fixture_dir()).unwrap();
    let store = || {
        TensorStore::from_safetensors(&files.weights)
            .unwrap()
            .finish()
    };
    let mut cfg = FixtureConfig::parse(&files.config_json, &store())
        .unwrap()
        .model;
    cfg.adapter.n_groups = 1;
    let device = Default::default();
    let model = load_clip_only::<Cpu>(&mut store(), &cfg, true, &device).unwrap();
    let mut direct = Detector::with_head(model.clone(), cfg.clone(), Head::TrainingFree, device);
    let (normal, abnormal) = dark_bottle_prompts();
    let emb = acd_core::training_free::class_embedding(
        model.text.as_ref().unwrap(),
        &normal,
        &abnormal,
        &device,
    )
    .unsqueeze::<3>();
    direct.insert_text_embedding("bottle", emb.clone());
    let cats = vec![(
        CategoryEntry {
            key: "bottle".into(),
            real_name: "dark bottle".into(),
            reference: None,
            calibration: None,
        },
        emb,
    )];
    let options = ExportOptions {
        name: "zero-shot".into(),
        description: String::new(),
        trained_on: None,
        untrained: true,
        precision: Precision::F32,
        with_text_tower: false,
        max_shard_bytes: 1 << 20,
        head: Head::TrainingFree,
    };
    let (manifest, bundle_files) = export_bundle(&model, &cfg, &cats, &options).unwrap();
    let json = serde_json::to_string(&manifest).unwrap();
    let manifest = parse_manifest(&json).unwrap();
    assert!(manifest.training_free);
    let files: HashMap<String, Vec<u8>> = bundle_files.into_iter().collect();
    let mut from_bundle = Detector::from_bundle(
        load_bundle::<Cpu>(&manifest, &files, &device).unwrap(),
        device,
    );
    assert_eq!(from_bundle.head(), Head::TrainingFree);
    let img = std::fs::read(official_fixture_dir().join("images/image1.png")).unwrap();
    let want = direct.detect(&img, "bottle").unwrap();
    let got = from_bundle.detect(&img, "bottle").unwrap();
    assert_eq!(got.map.len(), want.map.len());
    let max_map = got
        .map
        .iter()
        .zip(&want.map)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_map < 1e-5, "map differs by {max_map}");
    assert!(
        (got.score - want.score).abs() < 1e-5,
        "{} vs {}",
        got.score,
        want.score
    );
    // The map is not constant: the heads were carried, not replaced by defaults.
    let (lo, hi) = want
        .map
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(hi - lo > 1e-4, "flat map {lo}..{hi}");
}
