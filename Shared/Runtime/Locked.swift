import Foundation

/// A value behind a plain pthread mutex.
///
/// `Synchronization.Mutex` uses priority-inheritance futexes on Linux, which are slow under
/// contention (measured: a quarter of the HTTP server's CPU with 50 busy connections). Hot,
/// contended state (metrics, the server's connection table) uses this instead.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access. Never call back into the same lock from `body`.
    @inline(__always)
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
