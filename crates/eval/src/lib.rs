//! Metrics and reports for `acd eval` (no Burn).
