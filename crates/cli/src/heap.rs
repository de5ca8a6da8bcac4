//! Keep freed tensor buffers in the process heap (glibc only).
//!
//! A forward pass allocates the same large buffers layer after layer (a ViT-L MLP activation at
//! 518 px is 22 MB). glibc serves blocks over its mmap threshold with fresh `mmap`s and returns
//! them on free, so every layer paid page faults and page zeroing for memory it had just released:
//! about a tenth of the CPU inference time, all on one thread (`perf`, docs/benchmarks.md).
//! Raising the thresholds to glibc's maxima keeps those buffers for reuse.
//!
//! One arena for every thread: the command runs on a thread of the rayon pool (`threads.rs`), and
//! glibc would give that thread an arena of its own, apart from the ones the other threads free
//! into; at ViT-L/14-336, 518 px, batch 4 the peak rose from 1578 to 1650 MiB that way, and is
//! 1554 MiB with one arena (docs/benchmarks.md). Sharing the one arena's lock did not measurably
//! slow ViT-B/16 (alternating runs).

/// glibc's largest accepted mmap threshold (`HEAP_MAX_SIZE / 2` on 64-bit targets).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_MAX: i32 = 32 << 20;

/// Call once, first thing in `main`.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
