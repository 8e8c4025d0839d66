//! A cache prefetch hint: start bringing a value's cache line in while other work goes on.
//!
//! A new key at a full shard reads cache lines that nothing else touched lately: its index
//! slot, the last evicted key's slot, the LRU ends and the victim's neighbour. Each is a wait of
//! 50–100 ns when the shard's lock holder reaches it; asked for early, they arrive while the
//! call's other numbers are being looked up.

/// Hints that the cache line at `address` will be read soon. Any address will do: a prefetch
/// never faults, dereferences nothing and changes nothing a program can observe but timing.
/// A no-op off x86-64.
#[inline(always)]
pub(super) fn prefetch_address(address: usize) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `prefetcht0` only needs SSE, which every x86-64 CPU has; it is a hint that reads
    // nothing a program can see and cannot fault, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
