//! Handing the memory a reload freed back to the system.
//!
//! Building a snapshot peaks far above what the snapshot keeps: with 10,000 tools the gateway
//! held 144 MiB resident after its first reload, of which about 60 MiB were live. glibc keeps
//! the freed pages of its arenas mapped for reuse, so the peak stays resident for the life of the
//! process. `malloc_trim` returns them (measured: 144 → 66 MiB with those 10,000 tools).
//!
//! This is one of the workspace's three audited `unsafe` modules (docs/architecture.md): one FFI
//! call with no pointers and no caller-side invariants, which no safe crate offers. Other
//! allocators (musl, macOS) return memory by themselves, so elsewhere this does nothing.

/// Asks glibc to return the free pages of every arena; whether anything came back.
///
/// glibc locks each arena while it trims it, so allocating threads may wait a moment: call it
/// after a reload, not per request.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointers and only rearranges glibc's own free lists, under
    // glibc's own locks; live allocations are untouched.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Elsewhere the allocator returns memory by itself.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn releasing_after_a_large_free_is_safe_to_call_repeatedly() {
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
        drop(big);
        super::release_free_memory();
        super::release_free_memory();
    }
}
