import Log
import Runtime

/// Keeps a daemon's producer open until shutdown, then flushes and closes it. Listed first in a
/// service group, so it stops last: everything that produces has finished by then.
public struct ProducerService: Service {
    public let name = "producer"
    let producer: any LogProducer
    let flushTimeoutMs: Int

    public init(_ producer: any LogProducer, flushTimeoutMs: Int = 10_000) {
        self.producer = producer
        self.flushTimeoutMs = flushTimeoutMs
    }

    public func run() async throws {
        await waitForCancellation()
        await producer.close(timeoutMs: flushTimeoutMs)
    }
}
