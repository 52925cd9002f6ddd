import CMalloc
import Foundation

/// glibc's allocator settings for daemons that hold large, long-lived state.
public enum MallocTuning {
    /// One malloc arena for the whole process. glibc gives each busy thread its own arena; state
    /// built by one thread and grown by another then scatters over arenas that never shrink
    /// (measured on the resolver: a third more resident memory, no throughput gained). Call once,
    /// at start-up, before other threads. An explicit MALLOC_ARENA_MAX in the environment wins.
    public static func singleArena() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// Hands pages of freed memory back to the system (`malloc_trim`): state that is rewritten
    /// all the time leaves free holes all over the heap, which stay resident otherwise. Costs a
    /// walk of the heap (milliseconds); call it every few seconds, not per batch.
    public static func releaseFreeMemory() {
        _ = malloc_trim(0)
    }
}
