//! `acd detect` end to end on the official fixture's images: the JSON scores equal the official
//! `output.image_score_final`, overlays are written at each image's own size, the raw maps are
//! readable `.npy`, and a bad file in a batch is reported, skipped, and turns the exit status to 1.

use std::path::PathBuf;
use std::process::Command;

fn fixture_dir() -> PathBuf {
    std::env::var("ACD_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| package_dir().join("../../../shared/fixtures/acd-official"))
}

fn official_scores(dir: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(dir.join("io.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("output.image_score_final").unwrap();
    t.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("acd-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn detect_on_fixture_images_reproduces_official_scores() {
    let fixture = fixture_dir();
    let out = temp_dir("detect");
    let images = fixture.join("images");
    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .args(["detect"])
        .arg(images.join("image0.png"))
        .arg(images.join("image1.png"))
        .arg("--fixture")
        .arg(&fixture)
        .args(["--category", "bottle", "--threshold", "0.5", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "acd detect failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let expected = official_scores(&fixture);
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        let score = line["score"].as_f64().unwrap() as f32;
        assert!(
            (score - want).abs() <= 1e-4 * want.abs(),
            "image{i}: score {score} vs official {want}"
        );
        assert_eq!(
            line["verdict"],
            if score >= 0.5 { "anomalous" } else { "normal" }
        );
        assert!(line["timings_ms"]["forward_ms"].as_f64().unwrap() > 0.0);
        assert!(line["timings_ms"]["write_ms"].as_f64().unwrap() > 0.0);
        let overlay = image::open(line["overlay"].as_str().unwrap()).unwrap();
        let original = image::open(images.join(format!("image{i}.png"))).unwrap();
        assert_eq!(
            (overlay.width(), overlay.height()),
            (original.width(), original.height())
        );
        assert_ne!(
            overlay.to_rgb8().into_raw(),
            original.to_rgb8().into_raw(),
            "overlay draws nothing"
        );
        let npy = std::fs::read(line["map"].as_str().unwrap()).unwrap();
        let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        let header = String::from_utf8_lossy(&npy[10..10 + header_len]).to_string();
        assert!(
            header.contains(&format!(
                "'shape': ({}, {})",
                original.height(),
                original.width()
            )),
            "{header}"
        );
        let values = (npy.len() - 10 - header_len) / 4;
        assert_eq!(values as u32, original.width() * original.height());
    }
}

#[test]
fn a_bad_file_is_reported_and_the_rest_is_processed() {
    let fixture = fixture_dir();
    let dir = temp_dir("batch");
    std::fs::copy(fixture.join("images/image0.png"), dir.join("a.png")).unwrap();
    std::fs::write(dir.join("b.png"), b"this is not a png").unwrap();
    let out = dir.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .arg("detect")
        .arg(&dir)
        .arg("--fixture")
        .arg(&fixture)
        .args(["--category", "a scratched metal plate", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status must say some images failed"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0]["score"].is_number(),
        "a.png processed: {}",
        lines[0]
    );
    let err = lines[1]["error"].as_str().unwrap();
    assert!(
        err.to_lowercase().contains("image"),
        "error names the problem: {err}"
    );
    assert!(out.join("a.overlay.png").exists());
    assert_eq!(
        std::fs::read(dir.join("b.png")).unwrap(),
        b"this is not a png",
        "input untouched"
    );
}

/// The same model given as separate CLIP weights and adapter checkpoint (the users' path):
/// shapes, N, ranks and kernels are inferred from the files; the scores are the official ones.
#[test]
fn detect_with_separate_clip_and_adapter_files() {
    use safetensors::tensor::TensorView;

    let fixture = fixture_dir();
    let dir = temp_dir("split");
    let bytes = std::fs::read(fixture.join("weights.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (mut clip, mut adapters): (Vec<(String, TensorView)>, Vec<(String, TensorView)>) =
        (Vec::new(), Vec::new());
    for (name, view) in st.tensors() {
        if name.starts_with("image_adapter.") || name.starts_with("text_adapter.") {
            adapters.push((name, view));
        } else {
            clip.push((name, view));
        }
    }
    std::fs::write(
        dir.join("clip.safetensors"),
        safetensors::tensor::serialize(clip, None).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("adapters.safetensors"),
        safetensors::tensor::serialize(adapters, None).unwrap(),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .arg("detect")
        .arg(fixture.join("images/image1.png"))
        .arg("--clip")
        .arg(dir.join("clip.safetensors"))
        .arg("--adapters")
        .arg(dir.join("adapters.safetensors"))
        .args([
            "--image-size",
            "518",
            "--vision-heads",
            "4",
            "--text-heads",
            "4",
            "--category",
            "bottle",
            "--out",
        ])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(output.stdout).unwrap().trim()).unwrap();
    let want = official_scores(&fixture)[1];
    let score = line["score"].as_f64().unwrap() as f32;
    assert!(
        (score - want).abs() <= 1e-4 * want,
        "score {score} vs official {want}"
    );

    // Without the adapters the error says what is missing.
    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .arg("detect")
        .arg(fixture.join("images/image1.png"))
        .arg("--clip")
        .arg(dir.join("clip.safetensors"))
        .arg("--adapters")
        .arg(dir.join("clip.safetensors"))
        .args(["--category", "bottle", "--out"])
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("image_adapter"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A category the bundle has no embedding for (and no text tower to compute one) is refused once,
/// before any image is read: exit status 2, nothing on stdout, the bundle's categories listed.
#[test]
fn an_unknown_category_is_refused_before_any_image() {
    let out = temp_dir("unknown-category");
    let demo = package_dir().join("../../www/models/demo");
    let corpus = package_dir().join("../../tests/corpus/images");
    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .arg("detect")
        .arg(corpus.join("ok_rgb.png"))
        .arg(corpus.join("ok_gray.png"))
        .arg("--bundle")
        .arg(&demo)
        .args(["--category", "bottle", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no image may be analysed");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("\"bottle\"") && err.contains("carpet, wood, woven_fabric"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(&out).unwrap().next().is_none(),
        "no output written"
    );
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
