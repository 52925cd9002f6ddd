import CMalloc
import Foundation

/// glibc's allocator, for daemons that hold large, long-lived state. (Limiting malloc arenas
/// was measured too: with `releaseFreeMemory` it saved no memory and the shared arena's lock
/// cost a fifth of the resolver's throughput.)
public enum MallocTuning {
    /// Hands pages of freed memory back to the system (`malloc_trim`): state that is rewritten
    /// all the time leaves free holes all over the heap, which stay resident otherwise. Costs a
    /// walk of the heap (milliseconds); call it every few tens of seconds, not per batch.
    public static func releaseFreeMemory() {
        _ = malloc_trim(0)
    }
}
