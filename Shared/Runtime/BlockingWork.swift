import Dispatch

/// Runs work that blocks — a librdkafka call waiting for a broker, a socket read, a semaphore —
/// where it cannot hold up Swift concurrency.
///
/// Not `DispatchQueue.global()` and not a concurrent queue: on Linux both feed the
/// non-overcommitting worker pool that Swift's global executor also runs on. libdispatch adds
/// threads to that pool only while fewer than the CPU count are runnable, and while any is runnable
/// it stops at twice that (its oversubscription factor), so on 2 CPUs three blocked calls and
/// one busy job left every other task waiting: 15-second stalls in the test suite, which gdb
/// showed as exactly that. A serial queue targets the overcommitting pool instead, which starts
/// a thread whenever none is idle; a new queue per call lets calls run side by side.
public enum BlockingWork {
    /// Runs `body` on a thread of its own (from the overcommitting pool) and returns its result.
    public static func run<T: Sendable>(_ label: String = "cdp.blocking", _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: label).async { continuation.resume(returning: body()) }
        }
    }

    /// Starts `body` on a thread of its own and returns at once.
    public static func start(_ label: String = "cdp.blocking", _ body: @escaping @Sendable () -> Void) {
        DispatchQueue(label: label).async(execute: body)
    }
}
