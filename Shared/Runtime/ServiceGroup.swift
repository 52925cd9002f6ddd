import Foundation

/// Runs services in the order given and shuts them down in reverse order.
///
/// Shutdown starts on SIGTERM/SIGINT (or when any service returns or throws): the last service is
/// cancelled first and awaited up to `gracePeriod`, then the one before it, and so on. A service
/// that overruns the grace period, or a second signal, ends the process with exit code 1.
public struct ServiceGroup: Sendable {
    public let services: [any Service]
    public let logger: Logger
    public let gracePeriod: Duration
    public let signals: [Int32]

    public init(services: [any Service], logger: Logger, gracePeriod: Duration = .seconds(10),
                signals: [Int32] = [SIGTERM, SIGINT]) {
        self.services = services
        self.logger = logger
        self.gracePeriod = gracePeriod
        self.signals = signals
    }

    private enum Event: Sendable {
        case signal(Int32)
        case finished(Int, String?)
        case deadline(Int)
    }

    /// Returns when every service has stopped; rethrows the first failure of a service that
    /// stopped on its own (before shutdown began).
    public func run() async throws {
        let (events, sink) = AsyncStream<Event>.makeStream()
        let watcher = SignalWatcher(signals: signals) { sink.yield(.signal($0)) }
        defer { watcher.cancel() }

        var tasks: [Task<Void, Never>] = []
        for (index, service) in services.enumerated() {
            logger.debug("starting service", ["service": service.name])
            tasks.append(Task {
                do {
                    try await service.run()
                    sink.yield(.finished(index, nil))
                } catch {
                    sink.yield(.finished(index, String(describing: error)))
                }
            })
        }

        var finished = Set<Int>()
        var firstFailure: String?
        var iterator = events.makeAsyncIterator()

        // Phase 1: wait for a signal or for any service to end.
        waitLoop: while finished.count < services.count, let event = await iterator.next() {
            switch event {
            case .signal(let signo):
                logger.info("shutdown requested", ["signal": String(signo)])
                break waitLoop
            case .finished(let index, let failure):
                finished.insert(index)
                if let failure {
                    logger.error("service failed", ["service": services[index].name, "error": failure])
                    firstFailure = firstFailure ?? "\(services[index].name): \(failure)"
                } else {
                    logger.info("service stopped", ["service": services[index].name])
                }
                break waitLoop
            case .deadline:
                continue
            }
        }

        // Phase 2: stop the rest in reverse order, each within the grace period.
        for index in services.indices.reversed() where !finished.contains(index) {
            let name = services[index].name
            logger.debug("stopping service", ["service": name])
            tasks[index].cancel()
            let grace = gracePeriod
            let timer = Task {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { sink.yield(.deadline(index)) }
            }
            defer { timer.cancel() }
            stopLoop: while let event = await iterator.next() {
                switch event {
                case .finished(let done, let failure):
                    finished.insert(done)
                    if let failure, !(failure.contains("CancellationError")) {
                        logger.warning("service ended with error during shutdown", ["service": services[done].name, "error": failure])
                    }
                    if done == index { break stopLoop }
                case .deadline(let which) where which == index:
                    logger.error("service did not stop within the grace period; exiting", ["service": name])
                    exit(1)
                case .signal:
                    logger.error("second signal during shutdown; exiting now")
                    exit(1)
                case .deadline:
                    continue
                }
            }
        }
        if let firstFailure { throw ServiceGroupError.serviceFailed(firstFailure) }
    }
}

public enum ServiceGroupError: Error, CustomStringConvertible {
    case serviceFailed(String)
    public var description: String {
        switch self {
        case .serviceFailed(let what): "service failed: \(what)"
        }
    }
}

/// Delivers SIGTERM/SIGINT (or other signals) through Dispatch signal sources.
public final class SignalWatcher: @unchecked Sendable {
    // Only mutated in init and cancel(); cancel is idempotent on Dispatch sources.
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "cdp.signals")

    public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        for signo in signals {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { @Sendable in handler(signo) }
            source.resume()
            sources.append(source)
        }
    }

    public func cancel() {
        for source in sources { source.cancel() }
    }
}
