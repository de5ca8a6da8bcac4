//! Reports: Markdown column count, paper mean, CSV, JSON round trip, HTML
//! escaping and self-containment.

use acd_eval::report::{
    evaluate_class, paper_mean, ClassData, Miss, Missing, PixelData, PixelMetricsStatus, Report,
    COLUMNS,
};

fn results() -> Vec<acd_eval::ClassResult> {
    let map_a = [0.9f32, 0.5, 0.8, 0.1, 0.2, 0.3, 0.4, 0.7];
    let mask_a = [1u8, 1, 0, 0, 0, 0, 0, 1];
    let map_b = [0.1f32; 8];
    let mask_b = [0u8; 8];
    let maps: [&[f32]; 2] = [&map_a, &map_b];
    let masks: [&[u8]; 2] = [&mask_a, &mask_b];
    let a = evaluate_class(
        &ClassData {
            class_name: "bottle <b>&\"x\"|y",
            image_scores: &[0.9, 0.2],
            image_labels: &[1, 0],
            pixels: Some(PixelData {
                maps: &maps,
                masks: &masks,
                width: 4,
                height: 2,
            }),
            anomalous_without_mask: 0,
        },
        0.3,
    );
    // Only normal images: image AUROC undefined; no pixel maps.
    let b = evaluate_class(
        &ClassData {
            class_name: "cable, grey",
            image_scores: &[0.3, 0.4, 0.1],
            image_labels: &[0, 0, 0],
            pixels: None,
            anomalous_without_mask: 0,
        },
        0.3,
    );
    vec![a, b]
}

#[test]
fn markdown_table_has_eight_columns_on_every_row() {
    let r = Report::new("t", serde_json::Value::Null, results(), Missing::Zero);
    let md = r.to_markdown();
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 2 + 2 + 1, "{md}");
    for row in &rows {
        // Unescaped pipes delimit cells: 1 + 7 columns -> 9 pipes.
        let pipes = row.matches('|').count() - row.matches("\\|").count();
        assert_eq!(pipes, COLUMNS.len() + 2, "{row}");
    }
    assert!(rows[0].contains("Pixel AUPRO") && rows[0].contains("Image F1-max"));
    assert!(
        rows[2].starts_with("| bottle &lt;b&gt;&amp;\"x\"\\|y |"),
        "{}",
        rows[2]
    );
    assert!(rows[4].starts_with("| **Mean** |"));
    assert!(md.contains("counted as 0"));
}

#[test]
fn paper_mean_rounds_each_class_then_averages() {
    let mut rs = results();
    rs[0].image_auroc = Some(0.912_345); // -> 91.23
    rs[1].image_auroc = Some(0.800_06); // -> 80.01
    let m = paper_mean(&rs, Missing::Zero);
    assert!((m.image_auroc.unwrap() - (91.23 + 80.01) / 2.0).abs() < 1e-9);
    // Image AP of class b is undefined (no anomalous image): 0 under Zero, left out under Skip.
    let a_ap = (rs[0].image_ap.unwrap() * 1e4).round() / 100.0;
    assert!((m.image_ap.unwrap() - a_ap / 2.0).abs() < 1e-9);
    let s = paper_mean(&rs, Missing::Skip);
    assert!((s.image_ap.unwrap() - a_ap).abs() < 1e-9);
    // Pixel columns only average classes evaluated on pixels.
    let pa = (rs[0].pixel_aupro.unwrap() * 1e4).round() / 100.0;
    assert!((m.pixel_aupro.unwrap() - pa).abs() < 1e-9);
    // 13 normal pixels (5 + 8 of the all-normal map at 0.1); curve (0, .25), (1/13, .25),
    // (1/13, 1), ...: AUPRO(0.3) = (0.25/13 + (0.3 - 1/13)) / 0.3 = 1 - 2.5/13.
    assert!((rs[0].pixel_aupro.unwrap() - (1.0 - 2.5 / 13.0)).abs() < 1e-12);
}

#[test]
fn csv_quotes_and_has_one_row_per_class_plus_mean() {
    let r = Report::new("t", serde_json::Value::Null, results(), Missing::Skip);
    let csv = r.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].split(',').count(), 11);
    assert!(
        lines[2].starts_with("\"cable, grey\",3,0,,,,,,,"),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with("mean,4,1,"));
}

#[test]
fn json_round_trips() {
    let r = Report::new(
        "t",
        serde_json::json!({"model": "acd-clip", "fpr_limit": 0.3}),
        results(),
        Missing::Zero,
    );
    let back: Report = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn html_escapes_user_strings_and_is_self_contained() {
    let r = Report::new(
        "<script>alert(1)</script>",
        serde_json::json!({"note": "</pre><script>"}),
        results(),
        Missing::Zero,
    );
    let misses = [Miss {
        class_name: "bottle <b>&\"x\"|y".into(),
        file: "a\"><img src=x onerror=alert(1)>.png".into(),
        label: 1,
        score: 0.125,
        png: vec![0x89, b'P', b'N', b'G'],
    }];
    let html = r.to_html(&misses);
    assert!(!html.contains("<script"), "unescaped script");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("bottle &lt;b&gt;&amp;&quot;x&quot;|y"));
    assert!(!html.contains("<b>"));
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("a&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.png"));
    assert!(html.contains("src=\"data:image/png;base64,iVBORw==\""));
    assert!(html.contains("label: anomalous, score: 0.1250"));
    // No external resources.
    assert!(
        !html.contains("http:") && !html.contains("https:") && !html.contains("//"),
        "external reference"
    );
    assert!(html.contains("<svg") && html.contains("<polyline"));
    assert!(html.contains("Worst misses"));
}

/// A class whose anomalous images have no masks (or only some) keeps its image metrics, gets no
/// pixel metrics, and the report says which classes and why; the pixel mean is over the others.
#[test]
fn classes_without_masks_report_image_metrics_only() {
    let maps_a: [&[f32]; 3] = [&[0.9, 0.1], &[0.2, 0.8], &[0.1, 0.1]];
    let masks_a: [&[u8]; 3] = [&[1, 0], &[0, 1], &[0, 0]];
    let pixels = PixelData {
        maps: &maps_a,
        masks: &masks_a,
        width: 2,
        height: 1,
    };
    let class = |name, without| {
        evaluate_class(
            &ClassData {
                class_name: name,
                image_scores: &[0.9, 0.8, 0.1],
                image_labels: &[1, 1, 0],
                pixels: Some(pixels),
                anomalous_without_mask: without,
            },
            0.3,
        )
    };
    let (full, none, some) = (class("full", 0), class("none", 2), class("some", 1));
    assert_eq!(full.pixel_auroc, Some(1.0));
    assert_eq!(full.pixel_metrics, PixelMetricsStatus::Computed);
    for c in [&none, &some] {
        assert_eq!(
            (c.pixel_auroc, c.pixel_ap, c.pixel_aupro),
            (None, None, None)
        );
        assert_eq!(c.image_auroc, Some(1.0));
    }
    assert_eq!(
        none.pixel_metrics,
        PixelMetricsStatus::NoMasks { anomalous: 2 }
    );
    assert_eq!(
        some.pixel_metrics,
        PixelMetricsStatus::SomeMasks {
            with_mask: 1,
            without_mask: 1
        }
    );
    let r = Report::new(
        "t",
        serde_json::Value::Null,
        vec![full, none, some],
        Missing::Zero,
    );
    let md = r.to_markdown();
    assert!(
        md.contains("1 of 3 classes have them")
            && md.contains("none not computed: none of its 2 anomalous images has a mask")
            && md.contains("some not computed: 1 of its 2 anomalous images have no mask"),
        "{md}"
    );
    // The pixel mean is the one class with pixels, not diluted by zeros for the others.
    assert_eq!(r.mean.pixel_auroc, Some(100.0));
    assert_eq!(r.mean.image_auroc, Some(100.0));
    let csv = r.to_csv();
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .ends_with(",not computed: none of its 2 anomalous images has a mask"),
        "{csv}"
    );
}
