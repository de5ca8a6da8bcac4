//! Training (spec §5).
