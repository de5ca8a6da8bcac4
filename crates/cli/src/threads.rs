//! The command runs on a thread of the CPU backend's rayon pool.
//!
//! burn-flex splits each large operation over rayon. Called from `main`'s own thread, every such
//! operation handed its work to the pool's threads and put the caller to sleep until they finished:
//! one thread more than there are cores took turns on them, and each of the hundred-odd parallel
//! operations of a ViT-B/16 forward paid a sleep and a wake-up. On a pool thread the caller takes
//! its own share of the work, and the single-threaded steps between run where the pool's threads
//! already are.

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

#[cfg(test)]
mod tests {
    /// The command is one of the pool's threads, so a parallel operation it starts runs on the
    /// pool with the caller taking part (on the calling thread, `current_thread_index` is `None`).
    #[test]
    fn the_command_runs_on_a_thread_of_the_pool() {
        let caller = std::thread::current().id();
        let (index, threads, thread) = super::run_in_pool(|| {
            let index = rayon::current_thread_index();
            (
                index,
                rayon::current_num_threads(),
                std::thread::current().id(),
            )
        });
        assert!(
            index.is_some_and(|i| i < threads),
            "ran outside the pool: {index:?}"
        );
        assert_ne!(thread, caller, "ran on the calling thread");
    }
}
