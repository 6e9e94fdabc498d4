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
