import Foundation

/// A long-running part of a daemon (HTTP server, consumer loop, ...).
///
/// `run()` returns when the work is done or when its task is cancelled; cancellation is the
/// shutdown request: stop intake, finish the batch in hand, commit, flush, return.
public protocol Service: Sendable {
    var name: String { get }
    func run() async throws
}

/// A service made from a closure.
public struct ClosureService: Service {
    public let name: String
    private let body: @Sendable () async throws -> Void
    public init(name: String, _ body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.body = body
    }
    public func run() async throws { try await body() }
}

/// Blocks the calling task until it is cancelled (used by services that only react to shutdown).
public func waitForCancellation() async {
    let (stream, continuation) = AsyncStream<Void>.makeStream()
    await withTaskCancellationHandler {
        for await _ in stream {}
    } onCancel: {
        continuation.finish()
    }
}
