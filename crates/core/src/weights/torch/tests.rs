//! The reader's unit tests: hand-made pickles and archives.

use std::io::Write;

use super::*;

/// Runs a hand-made pickle and flattens its result.
fn run(pickle: &[u8]) -> Result<Vec<String>> {
    let mut heap = Heap::default();
    let (root, _) = Vm::new("test", pickle, 0, &mut heap).run()?;
    Ok(flatten(&heap, &root)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

fn short_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x8c);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn global(out: &mut Vec<u8>, module: &str, name: &str) {
    out.push(b'c');
    out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
}

/// `{name: _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())}`
fn tensor_dict(
    name: &str,
    storage: &str,
    numel: u8,
    offset: u8,
    size: &[u8],
    stride: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}'];
    short_str(&mut p, name);
    global(&mut p, "torch._utils", "_rebuild_tensor_v2");
    p.extend_from_slice(b"((");
    short_str(&mut p, "storage");
    global(&mut p, "torch", storage);
    short_str(&mut p, "0");
    short_str(&mut p, "cpu");
    p.extend_from_slice(&[b'K', numel, b't', b'Q', b'K', offset]);
    for dims in [size, stride] {
        p.push(b'(');
        for &d in dims {
            p.extend_from_slice(&[b'K', d]);
        }
        p.push(b't');
    }
    p.push(0x89);
    global(&mut p, "collections", "OrderedDict");
    p.extend_from_slice(b")Rt");
    p.extend_from_slice(b"Rs.");
    p
}

fn zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for &(name, data, deflate) in entries {
        let method = if deflate {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file(name, options).expect("start_file");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

#[test]
fn reads_deflated_big_endian_archive() {
    let pickle = tensor_dict("w", "FloatStorage", 3, 1, &[2], &[1]);
    let data: Vec<u8> = [1.5f32, -2.0, 4.25]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let bytes = zip(&[
        ("any_name/data.pkl", &pickle, true),
        ("any_name/byteorder", b"big", false),
        ("any_name/data/0", &data, true),
    ]);
    let tensors = read_torch_checkpoint(&bytes).expect("archive");
    assert_eq!(
        tensors,
        vec![("w".to_string(), RawTensor::new(vec![2], vec![-2.0, 4.25]))]
    );
}

#[test]
fn reads_root_level_data_pkl_and_half_strides() {
    let pickle = tensor_dict("h", "HalfStorage", 6, 0, &[2, 2], &[1, 3]);
    let data: Vec<u8> = (0..6)
        .flat_map(|i| f16::from_f32(i as f32).to_le_bytes())
        .collect();
    let bytes = zip(&[("data.pkl", &pickle, false), ("data/0", &data, false)]);
    let tensors = read_torch_checkpoint(&bytes).expect("archive");
    assert_eq!(
        tensors[0].1,
        RawTensor::new(vec![2, 2], vec![0.0, 3.0, 1.0, 4.0])
    );
}

#[test]
fn missing_pieces_are_named() {
    let pickle = tensor_dict("w", "FloatStorage", 1, 0, &[1], &[1]);
    let err =
        read_torch_checkpoint(&zip(&[("a/data.pkl", &pickle, false)])).expect_err("no storage");
    assert!(err.to_string().contains("a/data/0"), "{err}");
    let err =
        read_torch_checkpoint(&zip(&[("a/other.pkl", &pickle, false)])).expect_err("no data.pkl");
    assert!(matches!(err, PickleError::MissingDataPkl { .. }), "{err}");
    let err = read_torch_checkpoint(&zip(&[
        ("a/data.pkl", &pickle, false),
        ("a/byteorder", b"middle", false),
    ]))
    .expect_err("byte order");
    assert!(err.to_string().contains("byte order"), "{err}");
}

#[test]
fn stride_zero_expansion_is_bounded() {
    // One stored float viewed as a 250 x 250 x 250 x 250 tensor: valid bounds, absurd size.
    let pickle = tensor_dict(
        "x",
        "FloatStorage",
        1,
        0,
        &[250, 250, 250, 250],
        &[0, 0, 0, 0],
    );
    let bytes = zip(&[
        ("a/data.pkl", &pickle, false),
        ("a/data/0", &1f32.to_le_bytes(), false),
    ]);
    let err = read_torch_checkpoint(&bytes).expect_err("budget");
    assert!(
        matches!(err, PickleError::BadTensor { ref name, .. } if name == "x"),
        "{err}"
    );
    // A small expansion is fine.
    let pickle = tensor_dict("x", "FloatStorage", 1, 0, &[2, 3], &[0, 0]);
    let bytes = zip(&[
        ("a/data.pkl", &pickle, false),
        ("a/data/0", &1f32.to_le_bytes(), false),
    ]);
    assert_eq!(
        read_torch_checkpoint(&bytes).expect("expand")[0].1.data,
        vec![1.0; 6]
    );
}

#[test]
fn non_float_and_unknown_storages_are_skipped() {
    for storage in ["LongStorage", "BoolStorage", "SomeFutureStorage"] {
        let pickle = tensor_dict("i", storage, 1, 0, &[1], &[1]);
        let bytes = zip(&[("a/data.pkl", &pickle, false)]);
        assert!(read_torch_checkpoint(&bytes).expect(storage).is_empty());
    }
}

#[test]
fn self_referencing_dict_is_an_error() {
    // d = {}; d["a"] = d
    let err = run(b"\x80\x02}q\x00\x8c\x01ah\x00s.").expect_err("cycle");
    assert!(matches!(err, PickleError::BadStructure { .. }), "{err}");
}

#[test]
fn exponential_sharing_is_bounded() {
    // l0 = []; l(k+1) = [lk, lk] forty times: 2^40 paths.
    let mut p = vec![0x80, 2, b']', b'q', 0];
    for k in 0..40u8 {
        p.extend_from_slice(&[b']', b'(', b'h', k, b'h', k, b'e', b'q', k + 1]);
    }
    p.push(b'.');
    let err = run(&p).expect_err("blow-up");
    assert!(err.to_string().contains("values to visit"), "{err}");
}

#[test]
fn malformed_pickles_are_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "truncated"),
        (b"\x80\x02N", "truncated"),
        (b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff", "truncated"),
        (b"\x80\x02X\xff\xff\xff\xffabc", "truncated"),
        (b"\x80\x02j\xff\xff\xff\xff.", "never stored"),
        (b"\x80\x02R.", "underflow"),
        (b"\x80\x02N(\x86.", "underflow"),
        (b"\x80\x02t.", "MARK"),
        (b"\x80\x02\x82\x01.", "opcode 0x82"),
        (b"\x80\x09N.", "protocol 9"),
        (b"\x80\x02NNa.", "APPEND on None"),
        (b"\x80\x02(N\x8c\x07storageNNNt\x85Q.", "persistent id"),
    ];
    for (pickle, what) in cases {
        let err = run(pickle).expect_err("malformed");
        assert!(
            err.to_string().contains(what),
            "{pickle:?}: {err} should mention {what}"
        );
    }
    let marks = vec![b'('; MAX_MARKS + 1];
    assert!(matches!(
        run(&marks),
        Err(PickleError::LimitExceeded { .. })
    ));
    let mut tuples = vec![0x80, 2, b'N'];
    tuples.extend(std::iter::repeat_n(0x85, 1000));
    assert!(matches!(
        run(&tuples),
        Err(PickleError::LimitExceeded { .. })
    ));
}

#[test]
fn tensor_arguments_are_checked() {
    let mut heap = Heap::default();
    // Size and stride of different lengths.
    let p = tensor_dict("w", "FloatStorage", 4, 0, &[2, 2], &[1]);
    let err = Vm::new("t", &p, 0, &mut heap).run().expect_err("dims");
    assert!(err.to_string().contains("stride"), "{err}");
    // Size overflow is caught before anything is allocated.
    let spec = TensorSpec {
        storage: Rc::new(StorageRef {
            key: Rc::from("0"),
            dtype: DType::F32,
            numel: 1,
            view: None,
        }),
        dtype: DType::F32,
        offset: 0,
        size: vec![usize::MAX, 2],
        stride: vec![1, 1],
    };
    let err =
        decode_tensor("big", &spec, &[0; 4], false, &mut usize::MAX.clone()).expect_err("overflow");
    assert!(err.to_string().contains("overflows"), "{err}");
}

#[test]
fn long_values() {
    assert!(matches!(long_value(&[]), Value::Int(0)));
    assert!(matches!(long_value(&[0xff]), Value::Int(-1)));
    assert!(matches!(long_value(&[0x00, 0x80]), Value::Int(-32768)));
    assert!(matches!(long_value(&[0xff, 0x00]), Value::Int(255)));
    assert!(matches!(long_value(&[1; 9]), Value::BigInt(_)));
}
