import Synchronization

/// Collects the results of a batch of sends and resumes one continuation when all are in.
final class BatchCompletion: Sendable {
    private struct State {
        var results: [Result<RecordMetadata, LogError>?]
        var remaining: Int
        var continuation: CheckedContinuation<[Result<RecordMetadata, LogError>], Never>?
    }
    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, continuation: nil))
    }

    /// Sets who waits; resumed at once when every result is already in.
    func setContinuation(_ continuation: CheckedContinuation<[Result<RecordMetadata, LogError>], Never>) {
        let results: [Result<RecordMetadata, LogError>]? = state.withLock { s in
            if s.remaining == 0 { return s.results.map { $0! } }
            s.continuation = continuation
            return nil
        }
        if let results { continuation.resume(returning: results) }
    }

    func complete(_ index: Int, _ result: Result<RecordMetadata, LogError>) {
        let done: (CheckedContinuation<[Result<RecordMetadata, LogError>], Never>, [Result<RecordMetadata, LogError>])? = state.withLock { s in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0, let c = s.continuation else { return nil }
            s.continuation = nil
            return (c, s.results.map { $0! })
        }
        if let (continuation, results) = done { continuation.resume(returning: results) }
    }
}
