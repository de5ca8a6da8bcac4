//! What CPU a measurement ran on: its model name, the SIMD extensions that matter for speed, and
//! which matmul kernels burn-flex's gemm takes on it. Benchmarks print this with every number,
//! because the same binary runs different kernels on different CPU families.

use serde_json::{json, Value};

/// The instruction-set extensions the CPU kernels can use (names as in /proc/cpuinfo).
const SIMD_FLAGS: &[&str] = &[
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "neon",
    "asimd",
];

pub struct CpuInfo {
    pub model: String,
    pub simd: Vec<String>,
    pub matmul_kernels: &'static str,
}

impl CpuInfo {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
        };
        let model = field("model name")
            .or_else(|| field("Model"))
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let flags = field("flags")
            .or_else(|| field("Features"))
            .unwrap_or_default();
        let present: Vec<&str> = flags.split_whitespace().collect();
        let simd = SIMD_FLAGS
            .iter()
            .filter(|f| present.contains(f))
            .map(|f| f.to_string())
            .collect();
        CpuInfo {
            model,
            simd,
            matmul_kernels: matmul_kernels(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "model": self.model, "simd": self.simd, "matmul_kernels": self.matmul_kernels })
    }

    /// One line: "Intel(R) Xeon(R) Processor; avx2 fma avx512f …; matmul kernels: avx512f".
    pub fn line(&self) -> String {
        format!(
            "{}; {}; matmul kernels: {}",
            self.model,
            if self.simd.is_empty() {
                "no SIMD extensions listed".to_string()
            } else {
                self.simd.join(" ")
            },
            self.matmul_kernels
        )
    }
}

/// gemm's runtime choice, as gemm-common makes it: AVX-512 when built with it (the `avx512`
/// feature) and the CPU has avx512f, else FMA (AVX2), else scalar.
fn matmul_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return if cfg!(feature = "avx512") {
                "fma (avx2; this CPU has no avx512f)"
            } else {
                "fma (avx2; built without the avx512 feature)"
            };
        }
        "scalar"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}
