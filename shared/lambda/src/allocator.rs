//! The allocator every function's binary declares (`#[global_allocator]` in each `main.rs`):
//! jemalloc, not glibc's malloc.
//!
//! An invocation allocates buffers of megabytes (the payload, the encoded batch, the images'
//! documents) and frees them when it ends. glibc hands memory of that size back to the kernel
//! (an `mmap`ed chunk unmapped, or the heap's top trimmed), so the next invocation page-faults
//! every page of it in again, zeroed by the kernel: ~900 faults per 1,000-record batch, ~2,800
//! per 6 MB one, a quarter of a warm invocation's CPU (docs/BENCHMARKS.md, "Invocation cost").
//! jemalloc keeps freed pages and purges them gradually over ten seconds (`dirty_decay_ms`,
//! while it is in use), so a function invoked steadily mostly reuses pages it already has.
//!
//! Declared by the binaries, not here: a library that sets the allocator would impose it on
//! every test and tool that links it (and forbid them a profiling allocator of their own).
//! `.cargo/config.toml` builds jemalloc for 4 KiB pages on every target, as Lambda's arm64
//! kernels use (its configure script assumes 64 KiB when cross-compiling for aarch64).

/// jemalloc, as a global allocator.
pub use tikv_jemallocator::Jemalloc as Allocator;
