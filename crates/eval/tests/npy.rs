//! .npy writing and reading against a file written by numpy.save
//! (tests/data/small.npy, from scripts/make_metric_reference.py).

use acd_eval::dump::{decode_npy, encode_npy, read_npy, write_npy};
use serde_json::Value;

fn data(name: &str) -> std::path::PathBuf {
    package_dir().join("tests/data").join(name)
}

fn expected() -> (Vec<usize>, Vec<f32>) {
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(data("metric_reference.json")).unwrap())
            .unwrap();
    let shape = r["npy"]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let values = r["npy"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| match v {
            Value::String(s) if s == "inf" => f32::INFINITY,
            Value::String(s) if s == "-inf" => f32::NEG_INFINITY,
            v => v.as_f64().unwrap() as f32,
        })
        .collect();
    (shape, values)
}

#[test]
fn reads_numpy_file() {
    let (shape, values) = expected();
    let npy = read_npy(&data("small.npy")).unwrap();
    assert_eq!(vec![npy.height, npy.width], shape);
    assert_eq!(npy.data.len(), values.len());
    for (a, b) in npy.data.iter().zip(&values) {
        assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b}");
    }
}

#[test]
fn writes_the_same_bytes_as_numpy() {
    let bytes = std::fs::read(data("small.npy")).unwrap();
    let npy = decode_npy(&bytes).unwrap();
    assert_eq!(encode_npy(&npy.data, npy.height, npy.width), bytes);
    // Header: magic, v1.0, length so that data starts at a multiple of 64.
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0);
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }"));
    assert!(header.ends_with('\n'));
}

#[test]
fn round_trip_through_a_file() {
    let (h, w) = (37, 518);
    let values: Vec<f32> = (0..h * w).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
    let dir = std::env::temp_dir().join(format!("acd-eval-npy-{}", std::process::id()));
    let path = dir.join("sub/map.npy");
    write_npy(&path, &values, h, w).unwrap();
    let back = read_npy(&path).unwrap();
    assert_eq!((back.height, back.width), (h, w));
    assert_eq!(back.data, values);
    let bytes = std::fs::read(&path).unwrap();
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejects_other_dtypes_and_truncated_files() {
    let good = encode_npy(&[1.0, 2.0], 1, 2);
    let mut bad_dtype = good.clone();
    let pos = bad_dtype.windows(3).position(|w| w == b"<f4").unwrap();
    bad_dtype[pos + 2] = b'8';
    assert!(decode_npy(&bad_dtype).unwrap_err().contains("'<f4'"));
    assert!(decode_npy(&good[..good.len() - 1]).is_err());
    assert!(decode_npy(b"not a npy file").is_err());
}

#[test]
fn reads_fortran_order() {
    // A Fortran-ordered 2×3 array [[1,2,3],[4,5,6]] stores 1,4,2,5,3,6.
    let mut bytes = encode_npy(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 2, 3);
    let pos = bytes.windows(5).position(|w| w == b"False").unwrap();
    // Same length: "True " replaces "False".
    bytes[pos..pos + 5].copy_from_slice(b"True ");
    let npy = decode_npy(&bytes).unwrap();
    assert_eq!(npy.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
