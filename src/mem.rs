//! Memory of this process: its peak, for run reports and debug lines, how the allocator is
//! set at start, and giving freed memory back to the system between stages. A leaf module
//! that both `stages` and `report` use, so neither depends on the other for it.

/// Where glibc's `malloc` starts serving an allocation from a mapping of its own (given back
/// to the system the moment it is freed) instead of its heap: 1 MiB.
///
/// glibc's threshold starts at 128 KiB but rises to the size of every large block freed, up to
/// 32 MiB. A run's fetch frees many large response buffers, so by the post stage the similarity
/// index's vectors (tens of MB, built and freed family by family) all came from the heap, where
/// what is freed below a live allocation stays resident: building the index added 21.5 MB to a
/// whole 100,000-movie run against 4.3 MB to its post stage alone (docs/benchmarks.md,
/// 2026-12-06). A fixed threshold keeps such vectors in mappings of their own; 1 MiB keeps the
/// many small and middle-sized allocations of a run (rows, bodies, statements) on the heap,
/// where they are cheapest.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Sets the allocator for a long run; called once, first thing in `main`. A threshold the
/// user set in glibc's own environment variable (`MALLOC_MMAP_THRESHOLD_`) is left as it is.
/// Elsewhere than glibc it does nothing: the other allocators return large blocks themselves.
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        #[expect(unsafe_code, reason = "mallopt, glibc's own call; no crate wraps it")]
        // SAFETY: `mallopt` takes no pointers; it sets a parameter of glibc's allocator under
        // its own lock, and is called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

/// The peak resident memory of this process, where the platform tells it (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Gives the system back the memory the allocator holds free, where the allocator keeps it:
/// glibc's `malloc` returns freed memory only from the top of a heap, so what a stage freed
/// below a live allocation stays resident, and a later stage's large vectors (new mappings)
/// come on top of it. Called where a stage or a post-processing step ends, so the peak of a
/// whole run is the largest stage's, not the sum of what each left behind, and after each
/// range of computed recommendations. Elsewhere (musl, macOS, Windows) it does nothing: those
/// allocators give large blocks back themselves, and have no such call.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(
        unsafe_code,
        reason = "malloc_trim, glibc's own call; no crate wraps it"
    )]
    // SAFETY: `malloc_trim` takes no pointers and changes only glibc's free lists, under the
    // same arena locks as every other allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
