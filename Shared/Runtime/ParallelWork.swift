import Dispatch
import Synchronization

/// CPU-bound work spread over a few threads (Dispatch's worker pool, not Swift concurrency's
/// cooperative threads). The caller blocks until every part is done; small inputs run inline.
public enum ParallelWork {
    /// `body(part)` for each part in 0..<parts, on up to `parts` threads; results in part order.
    public static func run<T>(parts: Int, _ body: (Int) -> T) -> [T] {
        if parts <= 1 { return parts == 1 ? [body(0)] : [] }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: parts)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        // Each part writes only its own slot.
        nonisolated(unsafe) let slots = results
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: parts) { part in slots[part] = work(part) }
        }
        return results.map { $0! }
    }

    /// Maps `0..<count` in contiguous chunks over `threads` threads (inline below `minimum`
    /// items); results in index order.
    public static func map<T>(count: Int, threads: Int, minimum: Int = 256, _ body: (Int) -> T) -> [T] {
        let parts = count < minimum ? 1 : max(1, min(threads, count))
        if parts == 1 { return (0..<count).map(body) }
        let chunk = (count + parts - 1) / parts
        // Each part initialises its own range of the result in place (no per-part arrays joined
        // afterwards by the caller's thread).
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            nonisolated(unsafe) let out = buffer
            _ = run(parts: parts) { part in
                for i in part * chunk..<min(count, (part + 1) * chunk) { (out.baseAddress! + i).initialize(to: body(i)) }
                return 0
            }
            initialized = count
        }
    }

    /// `body(item)` for each of `items` (indices below `slots`) on up to `threads` threads. Items
    /// are claimed one at a time in the order given, so a thread that finishes early takes the
    /// next one (put the largest first); results are indexed by item, whoever ran it.
    public static func claiming<T>(_ items: [Int], slots: Int, threads: Int, _ body: (Int) -> T) -> [T?] {
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: slots)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results // each item is claimed once: one writer per slot
        let next = Atomic<Int>(0)
        _ = run(parts: max(1, min(threads, items.count))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < items.count else { return 0 }
                out[items[i]] = body(items[i])
            }
        }
        return Array(results)
    }
}
