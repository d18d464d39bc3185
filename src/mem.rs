//! Memory of this process: its peak, for run reports and debug lines, and giving freed memory
//! back to the system between stages. A leaf module that both `stages` and `report` use, so
//! neither depends on the other for it.

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
/// whole run is the largest stage's, not the sum of what each left behind. Elsewhere
/// (musl, macOS, Windows) it does nothing: those allocators give large blocks back
/// themselves, and have no such call.
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
