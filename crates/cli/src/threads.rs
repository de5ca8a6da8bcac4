//! The command runs on a thread of the CPU backend's rayon pool.
//!
//! burn-flex splits each large operation over rayon. Called from `main`'s own thread, every such
//! operation hands its work to the pool's threads and puts the caller to sleep until they finish:
//! three threads take turns on the cores, and each of the ~200 parallel operations of a ViT-B/16
//! forward pays a sleep and a wake-up. Run on a pool thread instead, the caller takes its own share
//! of the work, and the single-threaded steps between run where the pool's threads already are.

/// Stack of the pool's threads: the command runs on one of them, so it gets the size of a main
/// thread's (Linux's default 8 MiB) with room to spare for deep decoders.
const STACK_BYTES: usize = 16 << 20;

/// `f` on a thread of a rayon pool of the usual size (`RAYON_NUM_THREADS`, else one per core),
/// installed so that everything `f` runs in parallel uses that pool; `f` on the calling thread if
/// the pool cannot be made.
pub fn run_in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_BYTES)
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}
