//! Allocator tuning for a long-running exporter (glibc only; a no-op elsewhere).
//!
//! glibc's malloc keeps freed memory for reuse: one arena per thread that allocated (up to
//! 8 per core), and after the first large buffer is freed it raises its mmap threshold, so
//! later multi-megabyte buffers (a `/metrics` body at 1,000 targets is ~2.7 MB) come from
//! those arenas and stay resident. Measured at 1,000 targets with 8 concurrent scrapers
//! that tripled RSS (BENCHMARKS.md, F2). Parsing OpenClaw's files at (re)load also leaves
//! free pages inside the heap that nothing returns.

/// Called once at start-up, before any thread exists: a fixed mmap threshold (large
/// buffers go back to the OS when freed) and one arena (a process that mostly waits on
/// the network has no allocator contention worth a second heap).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns free heap pages to the OS; called after a plan is built or replaced, when the
/// parser's temporary allocations and the old plan are gone, and after a `/metrics`
/// render (its per-scrape rows are freed by then).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
