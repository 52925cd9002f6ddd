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
}
