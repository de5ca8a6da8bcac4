//! Pre-processing against Pillow (scripts/make_reference.py): bicubic resizes of photo-like images
//! of odd sizes within 1 grey level, PNG decoding exact, grey → RGB as `convert('RGB')`, and the
//! antialiased bicubic positional-embedding resize against PyTorch.

use std::collections::BTreeMap;

use acd_core::clip::pos_embed::resize_positional_embedding;
use acd_core::preprocess::{decode_image, resize_rgb, DecodeLimits, RgbImage};
use acd_core::weights::raw::RawTensor;
use acd_parity::reference_dir;
use safetensors::tensor::Dtype;

fn read(
    name: &str,
) -> (
    BTreeMap<String, (Vec<usize>, Vec<u8>)>,
    BTreeMap<String, RawTensor>,
) {
    let bytes = std::fs::read(reference_dir().join(name)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (mut u8s, mut f32s) = (BTreeMap::new(), BTreeMap::new());
    for (n, v) in st.tensors() {
        match v.dtype() {
            Dtype::U8 => {
                u8s.insert(n, (v.shape().to_vec(), v.data().to_vec()));
            }
            Dtype::F32 => {
                let d = v
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                f32s.insert(n, RawTensor::new(v.shape().to_vec(), d));
            }
            _ => {}
        }
    }
    (u8s, f32s)
}

fn decode_file(file: &str) -> RgbImage {
    let bytes = std::fs::read(reference_dir().join("images").join(file)).unwrap();
    decode_image(&bytes, &DecodeLimits::default()).unwrap()
}

fn source(u8s: &BTreeMap<String, (Vec<usize>, Vec<u8>)>, name: &str) -> RgbImage {
    match u8s.get(name) {
        Some((shape, data)) if shape[2] == 3 => RgbImage {
            width: shape[1],
            height: shape[0],
            pixels: data.clone(),
        },
        _ => decode_file(&format!("{name}.png")),
    }
}

fn max_diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    let d = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y));
    (d.clone().max().unwrap_or(0), d.filter(|&v| v > 0).count())
}

#[test]
fn bicubic_resize_matches_pillow_within_one_grey_level() {
    let (u8s, _) = read("pil_resize.safetensors");
    let mut checked = 0;
    for (key, (shape, expected)) in &u8s {
        let Some((src_name, size)) = key.split_once(".to_") else {
            continue;
        };
        if src_name == "jpeg0" {
            continue; // the JPEG case is below: its source pixels come from Pillow's decoder
        }
        let (w, h) = size
            .split_once('x')
            .map(|(w, h)| (w.parse().unwrap(), h.parse().unwrap()))
            .unwrap();
        assert_eq!(shape, &vec![h, w, 3]);
        let src = source(&u8s, src_name);
        let ours = resize_rgb(&src, w, h);
        let (max, n) = max_diff(&ours.pixels, expected);
        eprintln!(
            "{key}: {}x{} -> {w}x{h}: max diff {max}, {n} values differ",
            src.width, src.height
        );
        assert!(max <= 1, "{key}: max diff {max} grey levels");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} resizes checked");
}

#[test]
fn png_decoding_is_exact_and_grey_becomes_rgb_like_pillow() {
    let (u8s, _) = read("pil_resize.safetensors");
    for i in 0..3 {
        let name = format!("src{i}");
        let (shape, raw) = &u8s[&name];
        let img = decode_file(&format!("{name}.png"));
        assert_eq!((img.height, img.width), (shape[0], shape[1]));
        assert_eq!(&img.pixels, raw, "{name}.png decodes to other pixels");
    }
    let (shape, grey) = &u8s["gray0"];
    let img = decode_file("gray0.png");
    assert_eq!((img.height, img.width), (shape[0], shape[1]));
    let replicated: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
    assert_eq!(img.pixels, replicated);
}

#[test]
fn jpeg_decoding_and_resize_stay_close_to_pillow() {
    let (u8s, _) = read("pil_resize.safetensors");
    let (shape, pil_decoded) = &u8s["jpeg0.decoded"];
    let ours = decode_file("jpeg0.jpg");
    assert_eq!((ours.height, ours.width), (shape[0], shape[1]));
    let (max, n) = max_diff(&ours.pixels, pil_decoded);
    eprintln!(
        "jpeg0 decode: max diff {max}, {n} of {} values differ (image crate vs libjpeg)",
        pil_decoded.len()
    );
    // Different IDCT/upsampling implementations: a few grey levels at most.
    assert!(
        max <= 8,
        "JPEG decode differs from Pillow by {max} grey levels"
    );
    // From Pillow's own decoded pixels, the resize itself is exact to 1 grey level.
    let src = RgbImage {
        width: shape[1],
        height: shape[0],
        pixels: pil_decoded.clone(),
    };
    let (_, expected) = &u8s["jpeg0.to_518x518"];
    let (max, _) = max_diff(&resize_rgb(&src, 518, 518).pixels, expected);
    assert!(max <= 1, "jpeg0 resize: max diff {max}");
}

#[test]
fn positional_embedding_resize_matches_pytorch_antialiased_bicubic() {
    let (_, f32s) = read("pos_embed_resize.safetensors");
    let mut checked = 0;
    for (key, input) in &f32s {
        let Some(case) = key.strip_suffix(".in") else {
            continue;
        };
        let expected = &f32s[&format!("{case}.out")];
        let to_grid = ((expected.shape[0] - 1) as f64).sqrt() as usize;
        let ours = resize_positional_embedding(input, to_grid).unwrap();
        let c = acd_fixture::official::compare(case, &ours, expected, None);
        eprintln!(
            "{case}: max_abs {:.3e} max_rel {:.3e}",
            c.max_abs, c.max_rel
        );
        assert!(c.passed(), "{case}: max_abs {}", c.max_abs);
        assert_eq!(
            ours.data[..input.shape[1]],
            input.data[..input.shape[1]],
            "{case}: class-token row must be kept"
        );
        checked += 1;
    }
    assert!(checked >= 5);
}
