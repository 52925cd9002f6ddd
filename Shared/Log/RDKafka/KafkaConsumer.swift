import CRdKafka
import Foundation
import Runtime

/// A Kafka consumer over librdkafka: group subscription with synchronous rebalance hooks, or
/// explicit assignment; manual commits only (auto-commit and auto offset store are off).
///
/// `poll` blocks in `rd_kafka_consumer_poll` on the consumer's own serial Dispatch queue (never
/// on Swift's cooperative pool); the rebalance callback, and so the hooks, run there too.
public final class KafkaConsumer: LogConsumer {
    private let handle: RDKafkaHandle
    private let context: RDKafkaContext
    private let options: ConsumerOptions
    private let closed = AtomicFlag()
    private let pollQueue = DispatchQueue(label: "cdp.kafka.consumer.poll")
    /// Blocking requests (commit, committed, watermarks, seek) that may run beside a poll.
    private let requestTimeoutMs: Int32 = 10_000

    public init(brokers: String, options: ConsumerOptions, logger: Logger) throws(LogError) {
        var config = RDKafkaConfig()
        config["bootstrap.servers"] = brokers
        config["client.id"] = options.clientID
        // librdkafka needs a group id even for assign-only use; such a group never joins or commits.
        config["group.id"] = options.groupID ?? "cdp-assign-\(UUID().uuidString.lowercased())"
        config["enable.auto.commit"] = "false"
        config["enable.auto.offset.store"] = "false"
        config["enable.partition.eof"] = "false"
        config["auto.offset.reset"] = options.startFromBeginning ? "earliest" : "latest"
        config["session.timeout.ms"] = String(options.sessionTimeoutMs)
        config["heartbeat.interval.ms"] = String(max(100, options.sessionTimeoutMs / 4))
        config["reconnect.backoff.max.ms"] = "1000"
        config["topic.metadata.refresh.interval.ms"] = "5000"
        config["fetch.wait.max.ms"] = "100"
        // Read-ahead. Once the pre-fetched records pass either threshold, librdkafka 2.0 stops
        // fetching and looks again only after up to a second (its fetch.queue.backoff.ms came
        // in 2.2), so a consumer that drains the queue faster than that idles until then:
        // measured with the resolver doing no work, 175,000 records/s with 100,000 records
        // (the default) as the threshold, 594,000 with these. The bytes bound (librdkafka's
        // default) is the one that binds; memory for it is used only while catching up.
        config["queued.min.messages"] = "1000000"
        config["queued.max.messages.kbytes"] = "65536"
        config.merge(options.extra)
        self.options = options
        self.context = RDKafkaContext(logger: logger)
        let conf = try config.make()
        context.install(on: conf, deliveries: false, rebalance: true)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw LogError.configuration(RDKafkaError.string(errstr))
        }
        rd_kafka_poll_set_consumer(rk)
        self.handle = RDKafkaHandle(pointer: rk)
        _ = Unmanaged.passRetained(context)
    }

    deinit {
        // Leaving the group and destroying the handle wait for the broker (seconds when it is
        // unreachable): done on the consumer's own queue, after anything queued there, never on
        // whichever thread — possibly one of Swift's cooperative threads — drops the last reference.
        let (handle, context) = (self.handle, self.context)
        let leave = !closed.exchange(true)
        pollQueue.async {
            if leave { rd_kafka_consumer_close(handle.pointer) }
            rd_kafka_destroy(handle.pointer)
            Unmanaged.passUnretained(context).release()
        }
    }

    public var assignment: Set<TopicPartition> { context.assignment.withLock { $0 } }

    public var lag: [TopicPartition: Int64] {
        let assigned = assignment
        guard !assigned.isEmpty, !closed.load() else { return [:] }
        // Positions (next offset to hand out) and the high watermarks cached from fetch
        // responses: both local to librdkafka, no request to the broker.
        let list = RDKafkaPartitionList(Dictionary(uniqueKeysWithValues: assigned.map { ($0, Offset.stored) }))
        guard rd_kafka_position(handle.pointer, list.pointer) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
        var out: [TopicPartition: Int64] = [:]
        for (tp, position, _) in RDKafkaPartitionList.read(list.pointer) {
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(handle.pointer, tp.topic, tp.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            if position >= 0 {
                out[tp] = max(0, high - position)
            } else if high == 0 {
                out[tp] = 0 // nothing read yet, and nothing to read
            } // else: nothing read yet from a partition that has records; unknown until the first one
        }
        return out
    }

    public func subscribe(_ topics: [String], hooks: RebalanceHooks) throws(LogError) {
        guard options.groupID != nil else { throw LogError.configuration("subscribe needs a consumer group id") }
        if closed.load() { throw LogError.closed }
        context.hooks.withLock { $0 = hooks }
        let list = RDKafkaPartitionList(topics: topics)
        let err = rd_kafka_subscribe(handle.pointer, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw RDKafkaError.request(err, "subscribe to \(topics)") }
    }

    public func assign(_ offsets: [TopicPartition: Int64]) throws(LogError) {
        if closed.load() { throw LogError.closed }
        let list = RDKafkaPartitionList(offsets)
        let err = rd_kafka_assign(handle.pointer, offsets.isEmpty ? nil : list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw RDKafkaError.request(err, "assign") }
        context.assignment.withLock { $0 = Set(offsets.keys) }
    }

    public func poll(max: Int, timeoutMs: Int) async throws(LogError) -> [ConsumerRecord] {
        if closed.load() { throw LogError.closed }
        let handle = self.handle
        let logger = context.logger
        let closed = self.closed
        let result: Result<[ConsumerRecord], LogError> = await withCheckedContinuation { continuation in
            // rd_kafka_consumer_poll blocks (and runs rebalance callbacks): keep it off the cooperative pool.
            pollQueue.async {
                if closed.load() {
                    continuation.resume(returning: .failure(.closed))
                    return
                }
                var out: [ConsumerRecord] = []
                var wait = Int32(clamping: timeoutMs)
                while out.count < max {
                    guard let message = rd_kafka_consumer_poll(handle.pointer, wait) else { break }
                    defer { rd_kafka_message_destroy(message) }
                    wait = 0
                    let m = message.pointee
                    if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                        if m.err == RD_KAFKA_RESP_ERR__FATAL {
                            continuation.resume(returning: .failure(.fatal(RDKafkaError.message(m.err))))
                            return
                        }
                        logger.warning("consumer error", ["code": RDKafkaError.name(m.err), "error": RDKafkaError.message(m.err)])
                        continue
                    }
                    var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                    let ts = rd_kafka_message_timestamp(message, &tsType)
                    out.append(ConsumerRecord(
                        topic: m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
                        partition: m.partition, offset: m.offset,
                        key: RDKafkaCopy.bytes(m.key, m.key_len), value: RDKafkaCopy.bytes(m.payload, m.len),
                        headers: RDKafkaCopy.headers(message), timestampMs: ts))
                }
                continuation.resume(returning: .success(out))
            }
        }
        return try result.get()
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () -> Result<T, LogError>) async throws(LogError) -> T {
        // Each of these librdkafka calls waits for a broker round trip.
        try await BlockingWork.run("cdp.kafka.consumer.blocking", body).get()
    }

    public func commit(_ offsets: [TopicPartition: Int64]) async throws(LogError) {
        guard options.groupID != nil else { throw LogError.configuration("commit needs a consumer group id") }
        guard !offsets.isEmpty else { return }
        let handle = self.handle
        try await blocking { () -> Result<Void, LogError> in
            let list = RDKafkaPartitionList(offsets)
            let err = rd_kafka_commit(handle.pointer, list.pointer, 0)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(RDKafkaError.request(err, "commit")) }
            for (tp, _, e) in RDKafkaPartitionList.read(list.pointer) where e != RD_KAFKA_RESP_ERR_NO_ERROR {
                return .failure(RDKafkaError.request(e, "commit \(tp)"))
            }
            return .success(())
        }
    }

    public func committed(_ partitions: [TopicPartition]) async throws(LogError) -> [TopicPartition: Int64] {
        guard options.groupID != nil, !partitions.isEmpty else { return [:] }
        let handle = self.handle
        let timeout = requestTimeoutMs
        return try await blocking { () -> Result<[TopicPartition: Int64], LogError> in
            let list = RDKafkaPartitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Offset.stored) }))
            let err = rd_kafka_committed(handle.pointer, list.pointer, timeout)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(RDKafkaError.request(err, "committed offsets")) }
            var out: [TopicPartition: Int64] = [:]
            for (tp, offset, _) in RDKafkaPartitionList.read(list.pointer) where offset >= 0 { out[tp] = offset }
            return .success(out)
        }
    }

    public func seek(_ partition: TopicPartition, to offset: Int64) async throws(LogError) {
        let handle = self.handle
        let timeout = requestTimeoutMs
        try await blocking { () -> Result<Void, LogError> in
            let list = RDKafkaPartitionList([partition: offset])
            if let error = rd_kafka_seek_partitions(handle.pointer, list.pointer, timeout) {
                return .failure(RDKafkaError.consume(error, "seek \(partition)"))
            }
            for (tp, _, e) in RDKafkaPartitionList.read(list.pointer) where e != RD_KAFKA_RESP_ERR_NO_ERROR {
                return .failure(RDKafkaError.request(e, "seek \(tp)"))
            }
            return .success(())
        }
    }

    public func watermarks(_ partition: TopicPartition) async throws(LogError) -> Watermarks {
        let handle = self.handle
        let timeout = requestTimeoutMs
        return try await blocking { () -> Result<Watermarks, LogError> in
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high, timeout)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(RDKafkaError.request(err, "watermarks of \(partition)")) }
            return .success(Watermarks(low: low, high: high))
        }
    }

    public func close() async {
        guard !closed.exchange(true) else { return }
        let handle = self.handle
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Leaves the group (the revoke hook runs inside) after any poll in progress.
            pollQueue.async {
                rd_kafka_consumer_close(handle.pointer)
                continuation.resume()
            }
        }
    }
}
