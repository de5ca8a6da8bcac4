//! `acd bench`: latency (first call, then median and spread over repeated batch-1 runs),
//! throughput at a larger batch, and peak memory, for a configuration on a backend. Weights are
//! random (timing does not depend on their values).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use acd_core::anomaly_map::MapOperators;
use acd_core::config::{presets, AcdClipConfig, Activation, AdapterConfig, Domain};
use acd_core::model::{AcdClip, PredictOptions};
use acd_core::precision::l2_normalize;
use acd_core::trace::Trace;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use clap::ValueEnum;
use serde_json::json;

use crate::backend::BackendKind;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    /// OpenAI ViT-L/14-336 (the paper's backbone).
    VitL14_336,
    /// OpenAI ViT-B/16.
    VitB16,
    /// The small test preset.
    Tiny,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "vit-l14-336")]
    pub preset: Preset,
    /// Model input size (default: 518 for ViT-L/14-336 as in the paper, 224 otherwise).
    #[arg(long)]
    pub image_size: Option<usize>,
    #[arg(long, default_value_t = 4)]
    pub n_groups: usize,
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Batch size for the throughput measurement (0 skips it).
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Where to run: flex (the CPU default: gemm matmul, all cores), ndarray (CPU), wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The configuration `acd bench` times (and `acd export --random-preset` writes): the preset's
/// CLIP at `image_size` (default 518 for ViT-L/14-336, 224 otherwise) with N adapter groups.
pub fn config(preset: Preset, image_size: Option<usize>, n_groups: usize) -> AcdClipConfig {
    let (clip, default_size) = match preset {
        Preset::VitL14_336 => (presets::vit_l_14_336(518, Activation::Gelu), 518),
        Preset::VitB16 => (presets::vit_b_16(224, Activation::Gelu), 224),
        Preset::Tiny => (presets::tiny(224).clip, 224),
    };
    let size = image_size.unwrap_or(default_size);
    let mut clip = clip;
    clip.vision.image_size = size;
    AcdClipConfig {
        clip,
        adapter: AdapterConfig {
            n_groups,
            ..AdapterConfig::default()
        },
        domain: Domain::Industrial,
        map_size: size,
    }
}

/// A line of `/proc/self/status` (Linux), in MiB: `VmHWM` (peak resident) or `VmRSS` (current).
fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Restarts the peak-memory count from the current resident size (Linux `clear_refs` 5), so that
/// the peak covers inference only, not building the random model (whose text tower is dropped
/// first). scripts/bench_pytorch.py does the same, so both peaks mean the same thing.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Threads the CPU backend uses: rayon's pool (RAYON_NUM_THREADS) and matrixmultiply's
/// (MATMUL_NUM_THREADS, default: physical cores).
fn cpu_threads() -> serde_json::Value {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    json!({
        "available": cores,
        "rayon": env("RAYON_NUM_THREADS").unwrap_or(cores),
        "matmul": env("MATMUL_NUM_THREADS"),
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::with_backend!(args.backend, |B, device| run_with::<B>(&args, device))
}

fn run_with<B: Backend>(args: &Args, device: B::Device) -> anyhow::Result<ExitCode> {
    let cfg = config(args.preset, args.image_size, args.n_groups);
    cfg.validate()?;
    B::seed(&device, 7);
    let t = Instant::now();
    let mut model = AcdClip::<B>::new(&cfg, &device);
    model.text = None; // the text side runs once per category, not per image
    model.text_adapter = None;
    let model = model.fold();
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let resident_after_build = status_mib("VmRSS:");
    let peak_is_inference_only = reset_peak_rss();
    let s = cfg.clip.vision.image_size;
    let (n, dt) = (cfg.adapter.n_groups, cfg.clip.text.width);
    let text = l2_normalize(Tensor::<B, 3>::random(
        [n, 2, dt],
        Distribution::Normal(0.0, 1.0),
        &device,
    ))
    .swap_dims(1, 2);
    let ops = MapOperators::new(
        cfg.clip.vision.grid(),
        cfg.map_size,
        Some(cfg.domain.blur()),
    );
    // (whole pass, vision tower with adapters) in ms; the tower's share is timed to its last
    // feature read back, so on a GPU it includes the wait for the queue.
    let forward = |batch: usize| -> (f64, f64) {
        let x = Tensor::<B, 4>::random([batch, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
        let t = Instant::now();
        let f = model.forward_vision(&cfg, x, &mut Trace::off());
        if let Some(last) = f.det.last() {
            let _ = last.clone().into_data();
        }
        let vision_ms = t.elapsed().as_secs_f64() * 1e3;
        let p = model.predict(
            &cfg,
            &f,
            text.clone(),
            &ops,
            PredictOptions::INFERENCE,
            &mut Trace::off(),
        );
        let _ = p.score.into_data(); // wait for the device
        let _ = p.map.into_data();
        (t.elapsed().as_secs_f64() * 1e3, vision_ms)
    };
    let first_ms = forward(1).0;
    for _ in 0..args.warmup {
        forward(1);
    }
    let (mut times, mut vision_times): (Vec<f64>, Vec<f64>) =
        (0..args.runs.max(1)).map(|_| forward(1)).unzip();
    times.sort_by(|a, b| a.total_cmp(b));
    vision_times.sort_by(|a, b| a.total_cmp(b));
    let median = percentile(&times, 0.5);
    let vision_median = percentile(&vision_times, 0.5);
    let throughput = (args.batch > 0).then(|| args.batch as f64 / (forward(args.batch).0 / 1e3));
    let peak = status_mib("VmHWM:");
    let cpu = crate::cpu_info::CpuInfo::detect();
    let report = json!({
        "cpu": cpu.to_json(),
        "preset": format!("{:?}", args.preset),
        "image_size": s,
        "n_groups": n,
        "backend": format!("{:?}", args.backend),
        "threads": cpu_threads(),
        "build_ms": build_ms,
        "first_call_ms": first_ms,
        "latency_ms": { "median": median, "min": times[0], "max": times[times.len() - 1], "runs": times.len() },
        "vision_latency_ms": { "median": vision_median, "covers": "vision tower with the adapters, seg/det projections (no gateway, map or score)" },
        "throughput_images_per_s": throughput.map(|v| json!({"batch": args.batch, "value": v})),
        "resident_after_build_mib": resident_after_build,
        "peak_rss_mib": peak,
        "peak_rss_covers": if peak_is_inference_only { "inference (reset after building the model)" } else { "the whole process" },
    });
    println!(
        "preset            {:?} @ {s} px, N = {n}, backend {:?}",
        args.preset, args.backend
    );
    println!("cpu               {}", cpu.line());
    println!("model build       {build_ms:.0} ms (random weights)");
    println!("first call        {first_ms:.1} ms");
    println!(
        "batch-1 latency   median {median:.1} ms  (min {:.1}, max {:.1}, {} runs)",
        times[0],
        times[times.len() - 1],
        times.len()
    );
    println!(
        "  of which       {vision_median:.1} ms vision tower + adapters, {:.1} ms gateway, map and score (medians)",
        median - vision_median
    );
    if let Some(tp) = throughput {
        println!("throughput        {tp:.2} images/s at batch {}", args.batch);
    }
    if let Some(r) = resident_after_build {
        println!("resident (model)  {r:.0} MiB after building (text tower dropped)");
    }
    if let Some(p) = peak {
        let covers = if peak_is_inference_only {
            "during inference"
        } else {
            "whole process"
        };
        println!("peak memory       {p:.0} MiB (high-water mark, {covers})");
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
