//! acd_eval::metrics against scikit-learn and a from-the-definition AUPRO
//! (values in tests/data/metric_reference.json, written by
//! scripts/make_metric_reference.py; no Python needed here).

use acd_eval::metrics::{self, BinaryMetrics, PixelMetrics};
use serde_json::Value;

const TOL: f64 = 1e-6;

fn reference() -> Value {
    let path = package_dir().join("tests/data/metric_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn u8s(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect()
}

fn close(name: &str, what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL,
        "{name}: {what} = {got}, sklearn/reference {want}"
    );
}

/// Checks AUROC / AP / F1-max / threshold of `m` against a reference case.
fn check_binary(name: &str, m: &BinaryMetrics, case: &Value) {
    match case["auroc"].as_f64() {
        Some(want) => close(name, "auroc", m.auroc.expect("auroc defined"), want),
        None => assert_eq!(m.auroc, None, "{name}: auroc should be undefined"),
    }
    // sklearn returns 0 for AP and F1 without positives; acd_eval says None,
    // and the paper's convention (or_zero) gives the same 0.
    close(
        name,
        "ap",
        metrics::or_zero(m.ap),
        case["ap"].as_f64().unwrap(),
    );
    close(
        name,
        "f1_max",
        metrics::or_zero(m.f1_max),
        case["f1_max"].as_f64().unwrap(),
    );
    match case["f1_threshold"].as_f64() {
        Some(t) => assert_eq!(m.f1_threshold, Some(t as f32), "{name}: f1 threshold"),
        None => assert_eq!(m.f1_threshold, None, "{name}: f1 threshold"),
    }
}

#[test]
fn binary_metrics_equal_sklearn() {
    let r = reference();
    let cases = r["binary"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let scores = f32s(&case["scores"]);
        let labels = u8s(&case["labels"]);
        let m = BinaryMetrics::compute(&scores, &labels, 500);
        check_binary(name, &m, case);
        // The free functions agree with the shared computation.
        assert_eq!(metrics::auroc(&scores, &labels), m.auroc, "{name}");
        assert_eq!(metrics::average_precision(&scores, &labels), m.ap, "{name}");
        assert_eq!(
            metrics::f1_max(&scores, &labels),
            m.f1_max.zip(m.f1_threshold),
            "{name}"
        );
        assert_eq!(
            metrics::auroc_paper(&scores, &labels),
            metrics::or_zero(m.auroc),
            "{name}"
        );
    }
}

#[test]
fn pixel_metrics_equal_sklearn_and_aupro_definition() {
    let r = reference();
    let cases = r["pixel"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let w = case["width"].as_u64().unwrap() as usize;
        let h = case["height"].as_u64().unwrap() as usize;
        let limit = case["fpr_limit"].as_f64().unwrap();
        let maps: Vec<Vec<f32>> = case["maps"].as_array().unwrap().iter().map(f32s).collect();
        let masks: Vec<Vec<u8>> = case["masks"].as_array().unwrap().iter().map(u8s).collect();
        let map_refs: Vec<&[f32]> = maps.iter().map(|m| m.as_slice()).collect();
        let mask_refs: Vec<&[u8]> = masks.iter().map(|m| m.as_slice()).collect();
        let m = PixelMetrics::compute(&map_refs, &mask_refs, w, h, limit, 500);
        assert_eq!(
            m.n_regions as u64,
            case["n_regions"].as_u64().unwrap(),
            "{name}: regions"
        );
        match case["aupro"].as_f64() {
            Some(want) => close(name, "aupro", m.aupro.expect("aupro defined"), want),
            None => assert_eq!(m.aupro, None, "{name}: aupro should be undefined"),
        }
        assert_eq!(
            metrics::aupro(&map_refs, &mask_refs, w, h, limit),
            m.aupro,
            "{name}"
        );
        check_binary(name, &m.binary, case);
        // The PRO curve ends at the FPR limit when defined.
        if m.aupro.is_some() {
            let last = *m.pro.last().unwrap();
            assert!(
                (last.0 as f64 - limit).abs() < 1e-6,
                "{name}: pro curve ends at {last:?}"
            );
        }
    }
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
