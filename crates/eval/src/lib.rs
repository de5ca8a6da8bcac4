//! Metrics and reports for `acd eval` (no Burn).
//!
//! * [`metrics`]: exact AUROC, AP, F1-max (equal to scikit-learn) and AUPRO
//!   (MVTec AD definition), one sort per class; see `docs/metrics.md`.
//! * [`report`]: per-class results, paper-style mean, Markdown / JSON / CSV /
//!   self-contained HTML reports.
//! * [`calibration`]: decision thresholds at a target false-positive rate.
//! * [`dump`]: `.npy` maps and `scores.json`, from which every number can be
//!   recomputed ([`dump::recompute_from_dump`]).

pub mod calibration;
pub mod dump;
pub mod metrics;
pub mod report;

pub use metrics::{aupro, auroc, average_precision, f1_max, BinaryMetrics, PixelMetrics};
pub use report::{evaluate_class, ClassData, ClassResult, Missing, PixelData, Report};
