//! `acd`: ACD-CLIP anomaly detection from the command line.

use acd_cli::{bench, calibrate, check_fixture, detect, eval, export, textures, train};

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "acd",
    version,
    about = "ACD-CLIP zero-shot anomaly detection (Rust + Burn)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare every stage with an official-code fixture folder (config.json, weights.safetensors, io.safetensors).
    CheckFixture(check_fixture::Args),
    /// Detect anomalies in images or folders of images; writes overlays, raw maps and one JSON line per image.
    Detect(detect::Args),
    /// Write a model bundle (folded adapters, int8/f16/f32 shards with SHA-256, per-category text embeddings).
    Export(export::Args),
    /// Train adapters (and optionally the backbone) with the official recipe; checkpoints per epoch.
    Train(train::Args),
    /// Evaluate on a dataset or procedural textures: pixel/image AUROC, AP, AUPRO, F1-max; reports and dumps.
    Eval(eval::Args),
    /// Decision thresholds from data (at a target false-positive rate, or F1-max), written into a bundle.
    Calibrate(calibrate::Args),
    /// Measure latency, first-call time, throughput and peak memory (random weights).
    Bench(bench::Args),
    /// Write the project's procedural textures as an image folder (normal references, test sets).
    Textures(textures::Args),
}

fn main() -> ExitCode {
    acd_cli::heap::keep_freed_buffers();
    let cli = Cli::parse();
    let result = acd_cli::threads::run_in_pool(move || match cli.command {
        Command::CheckFixture(args) => check_fixture::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Export(args) => export::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Textures(args) => textures::run(args),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
