//! Decision thresholds: a category's calibrated thresholds (stored in its bundle entry by
//! `acd calibrate`) and which threshold a detection is judged by, with where it came from.
//!
//! A calibration holds only for the scores it was measured on: a category's scores change with
//! its normal-reference memory, so a calibration made with the bundle's own memory (or without
//! one) does not apply when a different memory scores the image. Then the default threshold is
//! used and marked as uncalibrated.

use serde::{Deserialize, Serialize};

use crate::reference::{ReferenceInfo, ReferenceSource};

/// The threshold of an uncalibrated category (the scores are probabilities).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// How the image threshold was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// At a target false-positive rate on normal images (`target_fpr`).
    TargetFpr,
    /// At the maximum F1 on labelled images.
    F1Max,
}

/// A category's calibrated thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// An image is anomalous when its score is at or above this.
    pub image_threshold: f32,
    /// A pixel is inside the outline when its map value is at or above this.
    pub pixel_threshold: f32,
    pub method: CalibrationMethod,
    /// The target false-positive rate (method `target_fpr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_fpr: Option<f64>,
    /// Images it was calibrated on.
    pub normal_images: usize,
    #[serde(default)]
    pub anomalous_images: usize,
    /// The false-positive rate on the calibration images themselves.
    pub measured_fpr: f64,
    /// The true-positive rate on the calibration images (`None` without anomalous images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_tpr: Option<f64>,
    /// The scores included the bundle's own normal-reference memory of the category.
    #[serde(default)]
    pub with_reference: bool,
    /// Where the images came from.
    #[serde(default)]
    pub description: String,
}

impl Calibration {
    /// Whether the thresholds are finite probabilities (a tampered manifest is refused).
    pub fn validate(&self) -> Result<(), String> {
        let ok = |x: f32| x.is_finite() && (0.0..=1.0 + f32::EPSILON).contains(&x);
        if !ok(self.image_threshold) || !ok(self.pixel_threshold) {
            return Err(format!(
                "thresholds {} / {} are not in [0, 1]",
                self.image_threshold, self.pixel_threshold
            ));
        }
        if self.method == CalibrationMethod::TargetFpr
            && !self.target_fpr.is_some_and(|f| f > 0.0 && f < 1.0)
        {
            return Err("method target_fpr without a target in (0, 1)".into());
        }
        Ok(())
    }

    /// "calibrated on 200 normal images at a 1% false-positive rate".
    pub fn describe(&self) -> String {
        match (self.method, self.target_fpr) {
            (CalibrationMethod::TargetFpr, Some(f)) => format!(
                "calibrated on {} normal images at a {} false-positive rate",
                self.normal_images,
                percent(f)
            ),
            _ => format!(
                "calibrated at F1-max on {} normal and {} anomalous images",
                self.normal_images, self.anomalous_images
            ),
        }
    }
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}%", p.round())
    } else {
        format!("{}%", (p * 1000.0).round() / 1000.0)
    }
}

/// The threshold a detection is judged by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Threshold {
    /// Image score threshold (anomalous at or above).
    pub image: f32,
    /// Map value threshold for the outline.
    pub pixel: f32,
    /// Whether it comes from a calibration that holds for this detection's scores.
    pub calibrated: bool,
    /// Where it came from, in words.
    pub source: String,
}

impl Threshold {
    /// The default, marked as uncalibrated, with the reason.
    pub fn default_because(reason: &str) -> Self {
        Threshold {
            image: DEFAULT_THRESHOLD,
            pixel: DEFAULT_THRESHOLD,
            calibrated: false,
            source: format!("default {DEFAULT_THRESHOLD}, not calibrated{reason}"),
        }
    }
}

/// The threshold for a detection of a category with `calibration` whose scores used `reference`
/// (the active memory, if any).
pub fn threshold_for(
    calibration: Option<&Calibration>,
    reference: Option<&ReferenceInfo>,
) -> Threshold {
    let Some(c) = calibration else {
        return Threshold::default_because("");
    };
    // Which memory (if any) changed the scores.
    let scoring = reference.filter(|r| !r.domain_only);
    let holds = match scoring {
        None => !c.with_reference,
        Some(r) => r.source == ReferenceSource::Bundle && c.with_reference,
    };
    if holds {
        return Threshold {
            image: c.image_threshold,
            pixel: c.pixel_threshold,
            calibrated: true,
            source: c.describe(),
        };
    }
    Threshold::default_because(match (scoring.map(|r| r.source), c.with_reference) {
        (Some(ReferenceSource::User), _) => {
            ": a reference memory of your own changes the scores the calibration was made on"
        }
        (None, true) => {
            ": the calibration was made with the bundle's reference memory, which is not in use"
        }
        _ => ": the calibration was made without the reference memory now in use",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ReferenceFeatures;

    fn cal(with_reference: bool) -> Calibration {
        Calibration {
            image_threshold: 0.42,
            pixel_threshold: 0.61,
            method: CalibrationMethod::TargetFpr,
            target_fpr: Some(0.01),
            normal_images: 200,
            anomalous_images: 0,
            measured_fpr: 0.005,
            measured_tpr: None,
            with_reference,
            description: String::new(),
        }
    }

    fn memory(source: ReferenceSource, domain_only: bool) -> ReferenceInfo {
        ReferenceInfo {
            images: 4,
            patches: vec![10],
            source,
            domain_only,
            features: ReferenceFeatures::PatchEmbedding,
        }
    }

    #[test]
    fn a_calibration_holds_only_for_the_scores_it_was_made_on() {
        let t = threshold_for(None, None);
        assert_eq!((t.image, t.calibrated), (DEFAULT_THRESHOLD, false));
        assert_eq!(t.source, "default 0.5, not calibrated");

        let zero_shot = cal(false);
        let t = threshold_for(Some(&zero_shot), None);
        assert_eq!((t.image, t.pixel, t.calibrated), (0.42, 0.61, true));
        assert_eq!(
            t.source,
            "calibrated on 200 normal images at a 1% false-positive rate"
        );
        // A domain-only memory does not change the scores.
        let domain = memory(ReferenceSource::Bundle, true);
        assert!(threshold_for(Some(&zero_shot), Some(&domain)).calibrated);
        // A memory that changes the scores does.
        let user = memory(ReferenceSource::User, false);
        let t = threshold_for(Some(&zero_shot), Some(&user));
        assert!(
            !t.calibrated && t.source.contains("of your own"),
            "{}",
            t.source
        );
        let bundle = memory(ReferenceSource::Bundle, false);
        assert!(!threshold_for(Some(&zero_shot), Some(&bundle)).calibrated);

        let with_memory = cal(true);
        assert!(threshold_for(Some(&with_memory), Some(&bundle)).calibrated);
        assert!(!threshold_for(Some(&with_memory), Some(&user)).calibrated);
        let t = threshold_for(Some(&with_memory), None);
        assert!(
            !t.calibrated && t.source.contains("not in use"),
            "{}",
            t.source
        );
    }

    #[test]
    fn validation() {
        assert!(cal(false).validate().is_ok());
        let bad = Calibration {
            image_threshold: f32::NAN,
            ..cal(false)
        };
        assert!(bad.validate().is_err());
        let bad = Calibration {
            target_fpr: None,
            ..cal(false)
        };
        assert!(bad.validate().is_err());
        let f1 = Calibration {
            method: CalibrationMethod::F1Max,
            target_fpr: None,
            anomalous_images: 30,
            ..cal(false)
        };
        assert!(f1.validate().is_ok());
        assert_eq!(
            f1.describe(),
            "calibrated at F1-max on 200 normal and 30 anomalous images"
        );
    }
}
