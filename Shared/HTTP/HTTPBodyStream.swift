import Foundation
import Runtime

/// A request body read in chunks while the handler runs (for uploads too large to buffer).
/// Memory stays bounded: the connection reads the next chunk only when the handler asks for it.
public final class HTTPBodyStream: @unchecked Sendable {
    private struct State {
        var buffered: [[UInt8]] = []
        var ended = false
        var error: HTTPParseError?
        var waiting: CheckedContinuation<Result<[UInt8]?, HTTPParseError>, Never>?
        var demand = false
        var handlerDone = false
    }
    private let state = Locked(State())
    /// Wakes the connection thread when the handler wants data or has finished.
    let wake = DispatchSemaphore(value: 0)
    private let fromConnection: Bool

    /// A stream over bytes already in memory (tests, buffered callers).
    public init(bytes: [UInt8]) {
        fromConnection = false
        state.withLock {
            if !bytes.isEmpty { $0.buffered = [bytes] }
            $0.ended = true
        }
    }

    init() {
        fromConnection = true
    }

    /// The next chunk, or nil at the end of the body. Throws the framing or limit error that
    /// ended the body early (the server then answers it and closes).
    public func next() async throws(HTTPParseError) -> [UInt8]? {
        let result: Result<[UInt8]?, HTTPParseError> = await withCheckedContinuation { continuation in
            let ready: Result<[UInt8]?, HTTPParseError>? = state.withLock { s in
                if !s.buffered.isEmpty { return .success(s.buffered.removeFirst()) }
                if let e = s.error { return .failure(e) }
                if s.ended { return .success(nil) }
                s.waiting = continuation
                s.demand = true
                return nil
            }
            if let ready {
                continuation.resume(returning: ready)
            } else if fromConnection {
                wake.signal()
            }
        }
        return try result.get()
    }

    // MARK: - Connection side

    /// Called by the connection thread: hands over a chunk (nil = end) or an error.
    func deliver(_ chunk: [UInt8]?, error: HTTPParseError? = nil) {
        let waiter: (CheckedContinuation<Result<[UInt8]?, HTTPParseError>, Never>, Result<[UInt8]?, HTTPParseError>)? = state.withLock { s in
            if let error { s.error = error } else if let chunk { s.buffered.append(chunk) } else { s.ended = true }
            s.demand = false
            guard let w = s.waiting else { return nil }
            s.waiting = nil
            if !s.buffered.isEmpty { return (w, .success(s.buffered.removeFirst())) }
            if let e = s.error { return (w, .failure(e)) }
            return (w, .success(nil))
        }
        if let (continuation, value) = waiter { continuation.resume(returning: value) }
    }

    func handlerFinished() {
        state.withLock { $0.handlerDone = true }
        wake.signal()
    }

    /// (the handler wants a chunk, the handler is done)
    var status: (demand: Bool, done: Bool) { state.withLock { ($0.demand, $0.handlerDone) } }
}

/// Handles a request whose body arrives as a stream.
public typealias HTTPStreamingHandler = @Sendable (HTTPRequest, HTTPBodyStream) async -> HTTPResponse
