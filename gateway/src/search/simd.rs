//! Hot loops compiled for the widest vector instructions the CPU has.
//!
//! Why: release builds target baseline x86-64 (SSE2) so the image runs on any x86-64 machine, and
//! the search loops (dot products over 10,000 tool vectors, the query encoder's 8-bit products)
//! then use 4-lane vectors where the CPUs we run on have 16. [`widest`] runs a closure inside a
//! copy compiled with AVX-512 or AVX2 enabled, chosen by a run-time check, so the compiler's
//! auto-vectorisation of plain Rust loops uses the wide registers.
//!
//! `unsafe` (one of the workspace's exceptions, see docs/architecture.md): calling a
//! `#[target_feature]` function, whose only requirement is that the CPU has those features —
//! checked just before.

/// Which instruction set [`widest`] runs with on this CPU (for logs and benchmarks).
pub fn instruction_set() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return "avx512";
        }
        if has_avx2() {
            return "avx2";
        }
    }
    "baseline"
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Runs `f` compiled for the widest instruction set this CPU has. Only code inlined into the
/// wide copy is compiled wide: mark the closure `#[inline(always)]`, keep the loop in it (not in
/// an iterator chain that `collect` drives from a separate function) and the functions it calls
/// `#[inline]`. Checked in the disassembly of `DenseIndex::search`.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return x86::avx512(f);
        }
        if has_avx2() {
            return x86::avx2(f);
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[target_feature(enable = "avx2,fma")]
    fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Only called after `has_avx512()`.
    #[inline(always)]
    pub(super) fn avx512<R>(f: impl FnOnce() -> R) -> R {
        // SAFETY: the caller checked that the CPU has every feature `with_avx512` enables.
        unsafe { with_avx512(f) }
    }

    /// Only called after `has_avx2()`.
    #[inline(always)]
    pub(super) fn avx2<R>(f: impl FnOnce() -> R) -> R {
        // SAFETY: the caller checked that the CPU has every feature `with_avx2` enables.
        unsafe { with_avx2(f) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_closure_once_and_returns_its_value() {
        let mut calls = 0;
        let sum: f32 = widest(|| {
            calls += 1;
            (0..100).map(|i| i as f32).sum()
        });
        assert_eq!((calls, sum), (1, 4950.0));
        assert!(["avx512", "avx2", "baseline"].contains(&instruction_set()));
    }
}
