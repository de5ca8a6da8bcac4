//! Datasets, procedural textures and synthetic anomalies (no Burn: plain images and masks).
