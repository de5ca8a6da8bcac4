//! AUPRO on cases worked out by hand from the definition (docs/metrics.md):
//! regions = 8-connected components of the mask; for each threshold t,
//! PRO(t) = mean over regions of the covered fraction, FPR(t) = covered
//! fraction of normal pixels; trapezoid from FPR 0 to the limit, the curve
//! interpolated at the limit, divided by the limit.

use acd_eval::metrics::{aupro, PixelMetrics};

fn close(got: Option<f64>, want: f64) {
    let got = got.expect("aupro defined");
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

/// One 4×2 image, two regions: A = {(0,0),(0,1)} (size 2) and B = {(1,3)}
/// (size 1); 5 normal pixels scored 0.8, 0.1, 0.2, 0.3, 0.4.
/// Scores (row-major):
/// ```text
/// 0.9 0.5 | 0.8 0.1        mask 1 1 0 0
/// 0.2 0.3   0.4 b          mask 0 0 0 1
/// ```
#[test]
fn two_regions_without_ties() {
    // b = 0.7. Curve (FPR, PRO):
    // start (0, 0); t=0.9: A half covered -> (0, (1/2+0)/2 = 0.25);
    // t=0.8: one normal -> (0.2, 0.25); t=0.7: B covered -> (0.2, 0.75);
    // t=0.5: A full -> (0.2, 1); t=0.4 -> (0.4, 1); ... t=0.1 -> (1, 1).
    let map = [0.9, 0.5, 0.8, 0.1, 0.2, 0.3, 0.4, 0.7f32];
    let mask = [1, 1, 0, 0, 0, 0, 0, 1u8];
    let a = |limit| aupro(&[&map], &[&mask], 4, 2, limit);
    // limit 0.3: 0.2·0.25 (0→0.2) + 0.1·1 (0.2→0.3, interpolated PRO 1) = 0.15; /0.3 = 0.5
    close(a(0.3), 0.5);
    // limit 1.0: 0.2·0.25 + 0.8·1 = 0.85
    close(a(1.0), 0.85);
    // limit 0.1: the first segment only, PRO 0.25 throughout: 0.025/0.1 = 0.25
    close(a(0.1), 0.25);
}

#[test]
fn tie_between_normal_and_anomalous_pixels_interpolates_a_sloped_segment() {
    // b = 0.8 ties with a normal pixel: t=0.8 adds both at once, so the
    // curve goes (0, 0.25) -> (0.2, 0.75) in one segment, then (0.2, 1) at t=0.5.
    let map = [0.9, 0.5, 0.8, 0.1, 0.2, 0.3, 0.4, 0.8f32];
    let mask = [1, 1, 0, 0, 0, 0, 0, 1u8];
    let a = |limit| aupro(&[&map], &[&mask], 4, 2, limit);
    // limit 0.1: PRO(0.1) = 0.25 + 0.5·(0.1/0.2) = 0.5; area 0.1·(0.25+0.5)/2 = 0.0375; /0.1
    close(a(0.1), 0.375);
    // limit 0.3: 0.2·(0.25+0.75)/2 = 0.1, vertical, 0.1·1 = 0.1: 0.2/0.3
    close(a(0.3), 0.2 / 0.3);
}

/// A diagonal-only pair is one region under 8-connectivity (4-connectivity
/// would give 3 regions and other values).
/// ```text
/// mask 1 0 0 1     scores 0.9 0.5 0.6 0.2
///      0 1 0 0            0.1 0.2 0.3 0.4
/// ```
#[test]
fn diagonal_neighbours_form_one_region() {
    // Regions: C = {(0,0),(1,1)} (size 2), D = {(0,3)} (size 1); 5 normals.
    // t=0.9: (0, (1/2+0)/2 = 0.25); t=0.6,0.5,0.4,0.3: FPR 0.2..0.8, PRO 0.25;
    // t=0.2: C and D full: (0.8, 1); t=0.1: (1, 1).
    // [4-connectivity: PRO(0.9) = (1+0+0)/3, AUPRO(0.3) = 1/3.]
    let map = [0.9, 0.5, 0.6, 0.2, 0.1, 0.2, 0.3, 0.4f32];
    let mask = [1, 0, 0, 1, 0, 1, 0, 0u8];
    let m = PixelMetrics::compute(&[&map], &[&mask], 4, 2, 0.3, 100);
    assert_eq!(m.n_regions, 2);
    close(m.aupro, 0.25);
    // limit 1: 0.8·0.25 + 0.2·1 = 0.4
    close(aupro(&[&map], &[&mask], 4, 2, 1.0), 0.4);
}

/// Regions are pooled over images; normal pixels too.
#[test]
fn regions_and_normal_pixels_are_pooled_over_images() {
    // Image 1 (2×1): region E = {0} scored 0.9, normal scored 0.1.
    // Image 2 (2×1): region F = {1} scored 0.3, normal scored 0.5.
    // t=0.9: (0, 0.5); t=0.5: (0.5, 0.5); t=0.3: (0.5, 1); t=0.1: (1, 1).
    // limit 1: 0.5·0.5 + 0.5·1 = 0.75. limit 0.3: 0.3·0.5/0.3 = 0.5.
    let maps: [&[f32]; 2] = [&[0.9, 0.1], &[0.5, 0.3]];
    let masks: [&[u8]; 2] = [&[1, 0], &[0, 1]];
    close(aupro(&maps, &masks, 2, 1, 1.0), 0.75);
    close(aupro(&maps, &masks, 2, 1, 0.3), 0.5);
}

#[test]
fn undefined_without_regions_or_normal_pixels() {
    assert_eq!(aupro(&[&[0.1, 0.2]], &[&[0, 0]], 2, 1, 0.3), None);
    assert_eq!(aupro(&[&[0.1, 0.2]], &[&[1, 1]], 2, 1, 0.3), None);
}
