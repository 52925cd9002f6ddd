/// Settings for a producer.
public struct ProducerOptions: Sendable {
    /// Identifies the client to the broker (logs, quotas). Make it unique per replica.
    public var clientID: String
    /// Records sent but not yet acknowledged; past this `send` fails with `LogError.queueFull`.
    public var maxInFlight: Int
    /// `zstd`, `lz4`, `snappy`, `gzip` or `none`.
    public var compression: String
    /// How long records wait to fill a batch.
    public var lingerMs: Int
    /// How long a record may wait for an acknowledgement before its delivery fails.
    public var deliveryTimeoutMs: Int
    /// Extra librdkafka settings (`key` → `value`), applied last.
    public var extra: [String: String]

    public init(clientID: String = "cdp", maxInFlight: Int = 200_000, compression: String = "zstd",
                lingerMs: Int = 5, deliveryTimeoutMs: Int = 120_000, extra: [String: String] = [:]) {
        self.clientID = clientID
        self.maxInFlight = maxInFlight
        self.compression = compression
        self.lingerMs = lingerMs
        self.deliveryTimeoutMs = deliveryTimeoutMs
        self.extra = extra
    }
}

/// Settings for a consumer.
public struct ConsumerOptions: Sendable {
    /// The consumer group; nil for a consumer that only reads assigned partitions and never commits.
    public var groupID: String?
    public var clientID: String
    /// Where to start when the group has no committed offset: `true` = oldest record, `false` = newest.
    public var startFromBeginning: Bool
    /// Group session timeout; small values make group restarts fast in tests.
    public var sessionTimeoutMs: Int
    public var extra: [String: String]

    public init(groupID: String?, clientID: String = "cdp", startFromBeginning: Bool = true,
                sessionTimeoutMs: Int = 10_000, extra: [String: String] = [:]) {
        self.groupID = groupID
        self.clientID = clientID
        self.startFromBeginning = startFromBeginning
        self.sessionTimeoutMs = sessionTimeoutMs
        self.extra = extra
    }
}

/// Called when the group hands partitions to this consumer (before any of their records is
/// returned) or takes them away (after the last record was returned and before another member
/// may read them). A daemon rebuilds state on assign and flushes/commits on revoke.
public struct RebalanceHooks: Sendable {
    public var onAssign: @Sendable ([TopicPartition]) -> Void
    public var onRevoke: @Sendable ([TopicPartition]) -> Void
    /// Where reading starts on newly assigned partitions (e.g. `Offset.beginning` to rebuild
    /// state from the log); partitions left out start at the committed offset.
    public var startOffsets: @Sendable ([TopicPartition]) -> [TopicPartition: Int64]

    public init(onAssign: @escaping @Sendable ([TopicPartition]) -> Void = { _ in },
                onRevoke: @escaping @Sendable ([TopicPartition]) -> Void = { _ in },
                startOffsets: @escaping @Sendable ([TopicPartition]) -> [TopicPartition: Int64] = { _ in [:] }) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
        self.startOffsets = startOffsets
    }
}

/// Writes records. Implementations: `KafkaProducer` (librdkafka), `InMemoryProducer`.
public protocol LogProducer: AnyObject, Sendable {
    /// Queues `record` and calls `completion` once with the acknowledgement or the failure.
    /// Throws at once (without calling `completion`) when the in-flight queue is full.
    func send(_ record: ProducerRecord, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError)

    /// Like `send(_:completion:)` with a completion shared by many records of `tracker.topic`
    /// (nothing is allocated per record: the hot path of bulk producers).
    func send(_ record: ProducerRecord, tracker: DeliveryTracker) throws(LogError)

    /// Like `send(_:completion:)` for record `index` of `batch`, read from the batch's buffer
    /// (no copy of the record is made on the way; the client copies the bytes it queues).
    func send(_ batch: RecordBatch, at index: Int, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError)

    /// Records sent and not yet acknowledged or failed.
    var inFlightCount: Int { get }

    /// The most records that may be in flight (`ProducerOptions.maxInFlight`).
    var maxInFlight: Int { get }

    /// For how long every broker has been unreachable, in milliseconds (0 when connected).
    var unreachableForMs: Int64 { get }

    /// Waits until every queued record is acknowledged or failed.
    func flush(timeoutMs: Int) async throws(LogError)

    /// Flushes (up to `timeoutMs`) and releases the client. Later sends fail with `.closed`.
    func close(timeoutMs: Int) async
}

extension LogProducer {
    /// Sends one record and waits for its acknowledgement.
    public func send(_ record: ProducerRecord) async throws(LogError) -> RecordMetadata {
        let result: Result<RecordMetadata, LogError> = await withCheckedContinuation { continuation in
            do throws(LogError) {
                try send(record) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Sends every record and waits for all acknowledgements; one result per record, in order.
    /// Records that do not fit in the in-flight queue fail with `.queueFull` (nothing waits).
    public func send(_ records: [ProducerRecord]) async -> [Result<RecordMetadata, LogError>] {
        if records.isEmpty { return [] }
        let batch = BatchCompletion(count: records.count)
        return await withCheckedContinuation { continuation in
            batch.setContinuation(continuation)
            for (index, record) in records.enumerated() {
                do throws(LogError) {
                    try send(record) { batch.complete(index, $0) }
                } catch {
                    batch.complete(index, .failure(error))
                }
            }
        }
    }
}

/// Records handed to the producer at once (so batches reach it in the order they were made),
/// whose acknowledgements are awaited later.
public final class PendingSends: Sendable {
    let batch: BatchCompletion
    let count: Int
    init(batch: BatchCompletion, count: Int) {
        self.batch = batch
        self.count = count
    }

    /// One result per record, in order, once all are in.
    public func results() async -> [Result<RecordMetadata, LogError>] {
        if count == 0 { return [] }
        return await withCheckedContinuation { batch.setContinuation($0) }
    }
}

extension LogProducer {
    /// Sends record `index` of `batch` as a standalone record (clients without a faster way).
    public func send(_ batch: RecordBatch, at index: Int, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError) {
        try send(batch.record(at: index), completion: completion)
    }

    /// Queues every record now — `records`, then each batch's records in order; the
    /// acknowledgements are awaited through the result (one per record, in that order). Records
    /// that do not fit in the in-flight queue fail with `.queueFull`.
    public func enqueue(_ records: [ProducerRecord], _ batches: [RecordBatch] = []) -> PendingSends {
        let total = records.count + batches.reduce(0) { $0 + $1.count }
        let completion = BatchCompletion(count: total)
        for (index, record) in records.enumerated() {
            do throws(LogError) {
                try send(record) { completion.complete(index, $0) }
            } catch {
                completion.complete(index, .failure(error))
            }
        }
        var index = records.count
        for batch in batches {
            for i in 0..<batch.count {
                let slot = index
                do throws(LogError) {
                    try send(batch, at: i) { completion.complete(slot, $0) }
                } catch {
                    completion.complete(slot, .failure(error))
                }
                index += 1
            }
        }
        return PendingSends(batch: completion, count: total)
    }
}

/// A completion for records of one topic, shared by many sends.
public final class DeliveryTracker: Sendable {
    public let topic: String
    public let completion: @Sendable (Result<RecordMetadata, LogError>) -> Void

    public init(topic: String, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) {
        self.topic = topic
        self.completion = completion
    }
}

/// Reads records. Implementations: `KafkaConsumer` (librdkafka), `InMemoryConsumer`.
public protocol LogConsumer: AnyObject, Sendable {
    /// Joins the consumer group for `topics`; partitions arrive through `hooks` during `poll`.
    func subscribe(_ topics: [String], hooks: RebalanceHooks) throws(LogError)

    /// Reads exactly these partitions from these offsets (`Offset.beginning`, `.end`, `.stored`
    /// or a number), without group membership.
    func assign(_ offsets: [TopicPartition: Int64]) throws(LogError)

    /// Returns up to `max` records, waiting at most `timeoutMs` for the first one.
    func poll(max: Int, timeoutMs: Int) async throws(LogError) -> [ConsumerRecord]

    /// Commits, per partition, the offset of the next record to read.
    func commit(_ offsets: [TopicPartition: Int64]) async throws(LogError)

    /// The group's committed offsets (nil where none).
    func committed(_ partitions: [TopicPartition]) async throws(LogError) -> [TopicPartition: Int64]

    /// Moves the read position of an assigned partition.
    func seek(_ partition: TopicPartition, to offset: Int64) async throws(LogError)

    /// The partition's low and high watermarks, as the broker reports them now.
    func watermarks(_ partition: TopicPartition) async throws(LogError) -> Watermarks

    /// Partitions currently assigned to this consumer.
    var assignment: Set<TopicPartition> { get }

    /// Per assigned partition, the records between the next one `poll` returns and the end of
    /// the partition as last reported by the broker (no request is made; a partition with records
    /// of which none was read yet is left out until the first one). The consumer lag operators
    /// scale on.
    var lag: [TopicPartition: Int64] { get }

    /// Leaves the group (running the revoke hook) and releases the client.
    func close() async
}

/// Topic administration.
public protocol LogAdmin: AnyObject, Sendable {
    /// Creates the topics; ones that already exist are left as they are.
    func createTopics(_ specs: [TopicSpec]) async throws(LogError)
    /// Every topic with its partition count (internal topics left out).
    func listTopics() async throws(LogError) -> [TopicInfo]
}

/// Makes clients for one cluster (a Kafka cluster or an in-memory log).
public protocol LogClient: Sendable {
    func makeProducer(_ options: ProducerOptions) throws(LogError) -> any LogProducer
    func makeConsumer(_ options: ConsumerOptions) throws(LogError) -> any LogConsumer
    func makeAdmin() throws(LogError) -> any LogAdmin
}
