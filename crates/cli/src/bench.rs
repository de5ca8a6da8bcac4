//! `acd bench`: latency (first call, then median and spread over repeated batch-1 runs),
//! throughput at a larger batch, and peak memory, for a configuration on a backend. Weights are
//! random (timing does not depend on their values).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use acd_core::config::{presets, AcdClipConfig, Activation, AdapterConfig, Domain};
use acd_core::fusion_gateway::MapOperators;
use acd_core::model::AcdClip;
use acd_core::nn::l2_normalize;
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
    #[arg(long, value_enum, default_value = "ndarray")]
    pub backend: BackendKind,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn config(args: &Args) -> AcdClipConfig {
    let (clip, default_size) = match args.preset {
        Preset::VitL14_336 => (presets::vit_l_14_336(518, Activation::Gelu), 518),
        Preset::VitB16 => (presets::vit_b_16(224, Activation::Gelu), 224),
        Preset::Tiny => (presets::tiny(224).clip, 224),
    };
    let size = args.image_size.unwrap_or(default_size);
    let mut clip = clip;
    clip.vision.image_size = size;
    AcdClipConfig {
        clip,
        adapter: AdapterConfig {
            n_groups: args.n_groups,
            ..AdapterConfig::default()
        },
        domain: Domain::Industrial,
        map_size: size,
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::with_backend!(args.backend, |B, device| run_with::<B>(&args, device))
}

fn run_with<B: Backend>(args: &Args, device: B::Device) -> anyhow::Result<ExitCode> {
    let cfg = config(args);
    cfg.validate()?;
    B::seed(&device, 7);
    let t = Instant::now();
    let mut model = AcdClip::<B>::new(&cfg, &device);
    model.text = None; // the text side runs once per category, not per image
    let model = model.fold();
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
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
    let forward = |batch: usize| -> f64 {
        let x = Tensor::<B, 4>::random([batch, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
        let t = Instant::now();
        let f = model.forward_vision(&cfg, x, &mut Trace::off());
        let p = model.predict(&cfg, &f, text.clone(), &ops, true, false, &mut Trace::off());
        let _ = p.score.into_data(); // wait for the device
        let _ = p.map.into_data();
        t.elapsed().as_secs_f64() * 1e3
    };
    let first_ms = forward(1);
    for _ in 0..args.warmup {
        forward(1);
    }
    let mut times: Vec<f64> = (0..args.runs.max(1)).map(|_| forward(1)).collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let median = percentile(&times, 0.5);
    let throughput = (args.batch > 0).then(|| args.batch as f64 / (forward(args.batch) / 1e3));
    let peak = peak_rss_mib();
    let report = json!({
        "preset": format!("{:?}", args.preset),
        "image_size": s,
        "n_groups": n,
        "backend": format!("{:?}", args.backend),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "build_ms": build_ms,
        "first_call_ms": first_ms,
        "latency_ms": { "median": median, "min": times[0], "max": times[times.len() - 1], "runs": times.len() },
        "throughput_images_per_s": throughput.map(|v| json!({"batch": args.batch, "value": v})),
        "peak_rss_mib": peak,
    });
    println!(
        "preset            {:?} @ {s} px, N = {n}, backend {:?}",
        args.preset, args.backend
    );
    println!("model build       {build_ms:.0} ms (random weights)");
    println!("first call        {first_ms:.1} ms");
    println!(
        "batch-1 latency   median {median:.1} ms  (min {:.1}, max {:.1}, {} runs)",
        times[0],
        times[times.len() - 1],
        times.len()
    );
    if let Some(tp) = throughput {
        println!("throughput        {tp:.2} images/s at batch {}", args.batch);
    }
    if let Some(p) = peak {
        println!("peak memory       {p:.0} MiB (process high-water mark)");
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
