//! The heap allocator of a node.
//!
//! `#[pinion::main]` makes [`NodeAllocator`] the binary's global allocator (mimalloc,
//! with the crate's default `mimalloc` feature). The data path allocates a message's
//! frames on the thread that publishes and frees them on the thread that writes the
//! socket, and receives into buffers that the user's task frees: with glibc's allocator
//! every such free takes a lock on the arena of the thread that allocated, and the
//! publishing and writing threads contend on it. mimalloc hands a block freed on another
//! thread back without a lock. Measured with `pinion-bench throughput 1024`: 1.4 million
//! futex calls in the run with glibc, 1 900 with mimalloc; CPU per 64-byte message
//! delivered 1.3 to 1.45 µs instead of 1.6 to 1.75 µs (`BENCHMARKS.md`).
//!
//! A binary that sets its own `#[global_allocator]` says
//! `#[pinion::main(global_allocator = false)]`; one built without the `mimalloc`
//! feature keeps the system allocator.

#[cfg(feature = "mimalloc")]
pub use mimalloc::MiMalloc as NodeAllocator;

#[cfg(not(feature = "mimalloc"))]
pub use std::alloc::System as NodeAllocator;

/// Makes the allocator give memory it frees back to the system at once, not after a
/// delay. For a very small node (`PINION_THREADS=1` does it): mimalloc returns freed
/// memory some time after the free, counted from later allocator activity, which an
/// idle node does not have, so memory it used once at start stays in its arena (about
/// 0.3 MB of private memory per node, `pinion-bench ring`). Not for nodes that move
/// large messages: there every freed buffer would cost page faults on the next one.
/// Without the `mimalloc` feature, nothing to do.
pub fn return_freed_memory_at_once() {
    #[cfg(feature = "mimalloc")]
    purge::set_delay(0);
}

/// mimalloc's purge delay in milliseconds (`None` without mimalloc).
#[doc(hidden)]
pub fn purge_delay_ms() -> Option<i64> {
    #[cfg(feature = "mimalloc")]
    return Some(purge::delay());
    #[cfg(not(feature = "mimalloc"))]
    None
}

/// mimalloc's options, through its C interface.
#[cfg(feature = "mimalloc")]
#[allow(unsafe_code)]
mod purge {
    /// `mi_option_purge_delay`: number 15 in mimalloc's versions 2 and 3 (options keep
    /// their numbers; retired ones are renamed, not removed). The test in
    /// `node-runtime/tests/purge.rs` checks that this number reads `MIMALLOC_PURGE_DELAY`.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

    pub(super) fn set_delay(ms: i64) {
        let ms = std::os::raw::c_long::try_from(ms).unwrap_or(0);
        // SAFETY: sets one of mimalloc's options by its number; any value is allowed,
        // and mimalloc reads options with atomics, so any thread may set one.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, ms) }
    }

    // `c_long` is 32 bits on armv7.
    #[allow(clippy::useless_conversion)]
    pub(super) fn delay() -> i64 {
        // SAFETY: reads one of mimalloc's options by its number.
        i64::from(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) })
    }
}

/// Declares [`NodeAllocator`] the global allocator: what `#[pinion::main]` expands to
/// unless told `global_allocator = false`.
#[doc(hidden)]
#[macro_export]
macro_rules! __install_node_allocator {
    () => {
        #[global_allocator]
        static __PINION_NODE_ALLOCATOR: $crate::alloc::NodeAllocator = $crate::alloc::NodeAllocator;
    };
}
