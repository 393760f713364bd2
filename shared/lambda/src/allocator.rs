//! Every function's allocator: jemalloc, not glibc's malloc.
//!
//! An invocation allocates buffers of megabytes (the payload, the encoded batch, the images'
//! documents) and frees them when it ends. glibc hands memory of that size back to the kernel
//! (an `mmap`ed chunk unmapped, or the heap's top trimmed), so the next invocation page-faults
//! every page of it in again, zeroed by the kernel: ~900 faults per 1,000-record batch, ~2,800
//! per 6 MB one, a quarter of a warm invocation's CPU (docs/BENCHMARKS.md, "Invocation cost").
//! jemalloc keeps freed pages for reuse and returns them only after ten idle seconds
//! (`dirty_decay_ms`), so a function that is invoked steadily touches fresh pages only when a
//! batch is larger than any before.
//!
//! Declared here, in the crate every function's binary links, so the three functions (and the
//! benchmarks that measure them in-process) share one allocator without each `main` repeating
//! it.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
