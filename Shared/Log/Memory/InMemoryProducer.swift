import Foundation
import Synchronization

/// A producer on an `InMemoryLog`. Acknowledges at once while the log is available.
public final class InMemoryProducer: LogProducer {
    private let log: InMemoryLog
    private let options: ProducerOptions
    private let inFlight = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    init(log: InMemoryLog, options: ProducerOptions) {
        self.log = log
        self.options = options
    }

    public var inFlightCount: Int { inFlight.load(ordering: .relaxed) }

    public var maxInFlight: Int { options.maxInFlight }

    public var unreachableForMs: Int64 { log.unreachableForMs }

    func finished() { inFlight.subtract(1, ordering: .relaxed) }

    public func send(_ record: ProducerRecord, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError) {
        if closed.load(ordering: .relaxed) { throw LogError.closed }
        if record.topic.isEmpty { throw LogError.request(code: "INVALID_TOPIC", message: "empty topic name") }
        let size = (record.key?.count ?? 0) + (record.value?.count ?? 0) + record.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.count }
        if size > log.maxRecordBytes {
            // As librdkafka answers at produce time.
            throw LogError.request(code: "MSG_SIZE_TOO_LARGE", message: "produce to \(record.topic): a record of \(size) bytes is larger than the maximum message size (\(log.maxRecordBytes))")
        }
        let before = inFlight.add(1, ordering: .relaxed).oldValue
        if before >= options.maxInFlight {
            inFlight.subtract(1, ordering: .relaxed)
            throw LogError.queueFull(limit: options.maxInFlight)
        }
        let partitions = log.defaultPartitions
        let outcome: (RecordMetadata?, UInt64?) = log.state.withLock { s in
            if s.available {
                let metadata = InMemoryLog.append(record, to: &s, defaultPartitions: partitions)
                InMemoryLog.bump(&s)
                return (metadata, nil)
            }
            let id = s.nextID
            s.nextID += 1
            s.pending.append(.init(id: id, record: record, producer: self, completion: completion))
            return (nil, id)
        }
        if let metadata = outcome.0 {
            finished()
            completion(.success(metadata))
        } else if let id = outcome.1 {
            // Delivery timeout while the log is unavailable, as librdkafka's message.timeout.ms.
            let timeout = options.deliveryTimeoutMs
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeout)) { [log] in
                let expired = log.state.withLock { s -> InMemoryLog.PendingSend? in
                    guard let index = s.pending.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.pending.remove(at: index)
                }
                if let expired {
                    expired.producer.finished()
                    expired.completion(.failure(.timedOut("record not acknowledged within \(timeout) ms")))
                }
            }
        }
    }

    public func send(_ record: ProducerRecord, tracker: DeliveryTracker) throws(LogError) {
        try send(record, completion: tracker.completion)
    }

    public func flush(timeoutMs: Int) async throws(LogError) {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while inFlightCount > 0 {
            if ContinuousClock.now >= deadline {
                throw LogError.timedOut("flush: \(inFlightCount) records still in flight")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    public func close(timeoutMs: Int) async {
        try? await flush(timeoutMs: timeoutMs)
        closed.store(true, ordering: .relaxed)
    }
}
