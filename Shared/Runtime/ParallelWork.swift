import Dispatch

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
        return run(parts: parts) { part in
            (part * chunk..<min(count, (part + 1) * chunk)).map(body)
        }.flatMap { $0 }
    }
}
