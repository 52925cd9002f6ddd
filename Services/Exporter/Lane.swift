import Dispatch
import ExportCore
import Runtime

/// One job on one source partition: its queue, its current definition and its worker task.
final class Lane: Sendable {
    let key: ExportsState.LaneKey
    let queue: Locked<LaneQueue>
    /// The job as last read from cdp.config, and how its audience ids map to slugs.
    let definition: Locked<(job: ExportJob, derivation: ItemDerivation, version: Int64)>
    /// Running totals recorded with the lane's position.
    let totals: Locked<(delivered: Int64, dead: Int64)>
    /// The worker has nothing in hand (nothing peeked and unacknowledged).
    let idle = AtomicFlag(true)
    /// The existing-users sync must be (re)queued once the partition has caught up.
    let needsExisting = AtomicFlag(false)
    let lastCheckpointMs = Locked<Int64>(0)
    /// Since when the batch at the front has been waiting for its profile data.
    let waitingSinceMs = Locked<Int64?>(nil)
    /// Wakes the worker when items are queued.
    let wakeup = Wakeup()
    /// Signalled when the worker has ended.
    let done = Wakeup()
    /// No new batch is taken once set; the one in hand finishes and is recorded.
    let stopped = AtomicFlag(false)
    let finished = AtomicFlag(false)
    private let task = Locked<Task<Void, Never>?>(nil)

    init(key: ExportsState.LaneKey, position: LanePosition, job: ExportJob, slugs: [String: String], version: Int64, totals: (Int64, Int64)) {
        self.key = key
        queue = Locked(LaneQueue(position: position))
        definition = Locked((job, ItemDerivation(job: job, slugs: slugs, partition: key.partition), version))
        self.totals = Locked((totals.0, totals.1))
        needsExisting.store(!position.existingDone)
    }

    var job: ExportJob { definition.withLock { $0.job } }
    var derivation: ItemDerivation { definition.withLock { $0.derivation } }

    func start(_ body: @escaping @Sendable (Lane) async -> Void) {
        task.withLock { $0 = Task {
            await body(self)
            self.finished.store(true)
            self.done.signal()
        } }
    }

    func stop() {
        stopped.store(true)
        wakeup.signal()
    }

    /// Stops and waits for the batch in hand (up to `timeoutMs`, then cancels the worker).
    func finish(timeoutMs: Int) async {
        stop()
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        // Waits on a signal, not Task.sleep: the caller is usually a cancelled task, where
        // sleeping would return at once and spin.
        while !finished.load(), ContinuousClock.now < deadline {
            await done.wait(timeoutMs: 50)
        }
        task.withLock { $0?.cancel() }
    }
}

/// A one-waiter wake-up signal with a timeout (no polling while idle).
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }
    private let state = Locked(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.signalled = true
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// Returns when signalled (or at once if a signal is pending) or after `timeoutMs`.
    func wait(timeoutMs: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { s in
                if s.signalled {
                    s.signalled = false
                    return nil
                }
                s.nextID += 1
                s.waiter = (s.nextID, continuation)
                return s.nextID
            }
            guard let id else {
                continuation.resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeoutMs)) { [state] in
                let expired = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard let w = s.waiter, w.id == id else { return nil }
                    s.waiter = nil
                    return w.continuation
                }
                expired?.resume()
            }
        }
    }
}
