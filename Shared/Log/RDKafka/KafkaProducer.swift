import CRdKafka
import Foundation
import Runtime
import Synchronization

/// An idempotent Kafka producer over librdkafka.
///
/// Each record gets a completion from its delivery report. A dedicated thread serves delivery
/// reports (`rd_kafka_poll` blocks on librdkafka's queue, so there is no sleep loop). The number
/// of records in flight is bounded by `ProducerOptions.maxInFlight`; past it `send` throws
/// `LogError.queueFull`, which callers turn into back-pressure.
public final class KafkaProducer: LogProducer {
    private let handle: RDKafkaHandle
    private let context: RDKafkaContext
    private let options: ProducerOptions
    private let inFlight: AtomicInt
    private struct TopicCache {
        var all: [String: RDKafkaHandle] = [:]
        var last: (name: String, handle: RDKafkaHandle)?
    }
    private let topics = Locked(TopicCache())
    private let closed = AtomicFlag()
    private let pollerDone = DispatchSemaphore(value: 0)
    /// Blocking librdkafka calls (flush) run here, never on Swift's cooperative pool.

    public init(brokers: String, options: ProducerOptions, logger: Logger) throws(LogError) {
        var config = RDKafkaConfig()
        config["bootstrap.servers"] = brokers
        config["client.id"] = options.clientID
        config["enable.idempotence"] = "true"
        config["compression.type"] = options.compression
        config["linger.ms"] = String(options.lingerMs)
        config["batch.size"] = "1000000"
        config["queue.buffering.max.messages"] = String(max(1, options.maxInFlight) + 1000)
        config["queue.buffering.max.kbytes"] = "1048576"
        config["message.timeout.ms"] = String(options.deliveryTimeoutMs)
        config["partitioner"] = "murmur2_random"
        config["reconnect.backoff.max.ms"] = "1000"
        config["topic.metadata.refresh.interval.ms"] = "10000"
        config.merge(options.extra)
        self.options = options
        self.context = RDKafkaContext(logger: logger)
        self.inFlight = context.inFlight
        let conf = try config.make()
        context.install(on: conf, deliveries: true, rebalance: false)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw LogError.configuration(RDKafkaError.string(errstr))
        }
        self.handle = RDKafkaHandle(pointer: rk)
        // Retained until deinit, after rd_kafka_destroy: callbacks hold it unretained.
        _ = Unmanaged.passRetained(context)
        let handle = self.handle
        let closed = self.closed
        let done = pollerDone
        let thread = Thread {
            while !closed.load() {
                rd_kafka_poll(handle.pointer, 100)
            }
            // Anything still queued fails now rather than never: purged records come back as
            // delivery reports with an error, which complete and release their tickets.
            rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            while rd_kafka_outq_len(handle.pointer) > 0 {
                if rd_kafka_poll(handle.pointer, 100) == 0 { break }
            }
            rd_kafka_poll(handle.pointer, 0)
            done.signal()
        }
        thread.name = "cdp.kafka.producer.poll"
        thread.start()
    }

    deinit {
        if !closed.exchange(true) {
            rd_kafka_yield(handle.pointer)
            pollerDone.wait()
        }
        for rkt in topics.withLock({ Array($0.all.values) }) { rd_kafka_topic_destroy(rkt.pointer) }
        rd_kafka_destroy(handle.pointer)
        Unmanaged.passUnretained(context).release()
    }

    public var inFlightCount: Int { inFlight.load() }

    public var maxInFlight: Int { options.maxInFlight }

    /// Milliseconds for which every broker has been unreachable (0 when connected).
    public var unreachableForMs: Int64 {
        let since = context.allBrokersDownSinceMs.load(ordering: .relaxed)
        return since == 0 ? 0 : max(0, Timestamp.nowMs() - since)
    }

    public func send(_ record: ProducerRecord, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError) {
        try send(record, tracker: DeliveryTracker(topic: record.topic, completion: completion))
    }

    public func send(_ record: ProducerRecord, tracker: DeliveryTracker) throws(LogError) {
        try handOver(tracker, topic: record.topic) { produce(record, opaque: $0) }
    }

    public func send(_ batch: RecordBatch, at index: Int, completion: @escaping @Sendable (Result<RecordMetadata, LogError>) -> Void) throws(LogError) {
        try handOver(DeliveryTracker(topic: batch.topic, completion: completion), topic: batch.topic) { opaque in
            guard let rkt = topicHandle(batch.topic) else { return rd_kafka_last_error() }
            let entry = batch.entries[index]
            return batch.bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress // nil only for an empty buffer: every range is empty then
                return cdp_rdk_produce(handle.pointer, rkt, RD_KAFKA_PARTITION_UA, base.map { $0 + entry.key.lowerBound }, entry.key.count,
                                       base.map { $0 + entry.value.lowerBound }, entry.value.count, nil, 0, opaque)
            }
        }
    }

    /// Takes one more record in flight and runs `produce` with `tracker` as the message opaque.
    /// The tracker travels (retained) and comes back in the delivery report, which releases it:
    /// no shared table, no lock and no allocation per record. A failed produce takes both back.
    private func handOver(_ tracker: DeliveryTracker, topic: String, _ produce: (UnsafeMutableRawPointer) -> rd_kafka_resp_err_t) throws(LogError) {
        if closed.load() { throw LogError.closed }
        if context.hasFatalError.load(), let fatal = context.fatalError.withLock({ $0 }) { throw LogError.fatal(fatal) }
        let before = inFlight.add(1)
        if before >= options.maxInFlight {
            inFlight.subtract(1)
            throw LogError.queueFull(limit: options.maxInFlight)
        }
        let ticket = Unmanaged.passRetained(tracker)
        let err = produce(ticket.toOpaque())
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            ticket.release()
            inFlight.subtract(1)
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL { throw LogError.queueFull(limit: options.maxInFlight) }
            throw RDKafkaError.request(err, "produce to \(topic)")
        }
    }

    /// The topic handle for `name`, created once (librdkafka looks names up under a lock otherwise).
    private func topicHandle(_ name: String) -> OpaquePointer? {
        topics.withLock { cache in
            // Most producers write one topic after another: check the last one before hashing.
            if let last = cache.last, last.name == name { return last.handle.pointer }
            if let rkt = cache.all[name] {
                cache.last = (name, rkt)
                return rkt.pointer
            }
            guard let rkt = rd_kafka_topic_new(handle.pointer, name, nil) else { return nil }
            cache.all[name] = RDKafkaHandle(pointer: rkt)
            cache.last = (name, RDKafkaHandle(pointer: rkt))
            return rkt
        }
    }

    private func produce(_ record: ProducerRecord, opaque: UnsafeMutableRawPointer?) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                header.value.withUnsafeBytes { raw in
                    _ = rd_kafka_header_add(headers, header.name, -1, raw.baseAddress, raw.count)
                }
            }
        }
        guard let rkt = topicHandle(record.topic) else {
            if let headers { rd_kafka_headers_destroy(headers) }
            return rd_kafka_last_error()
        }
        let partition = record.partition ?? RD_KAFKA_PARTITION_UA
        let err = withOptionalBytes(record.key) { keyPtr, keyLen in
            withOptionalBytes(record.value) { valuePtr, valueLen in
                cdp_rdk_produce(handle.pointer, rkt, partition, keyPtr, keyLen, valuePtr, valueLen,
                                headers, record.timestampMs ?? 0, opaque)
            }
        }
        // On success librdkafka owns the headers; on failure they are still ours.
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }

    public func flush(timeoutMs: Int) async throws(LogError) {
        let handle = self.handle
        // rd_kafka_flush blocks: run it off Swift's cooperative threads.
        let err = await BlockingWork.run("cdp.kafka.producer.flush") { rd_kafka_flush(handle.pointer, Int32(clamping: timeoutMs)) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw LogError.timedOut("flush: \(inFlightCount) records still in flight after \(timeoutMs) ms")
        }
    }

    public func close(timeoutMs: Int) async {
        guard !closed.load() else { return }
        try? await flush(timeoutMs: timeoutMs)
        if !closed.exchange(true) {
            // Wake the poll thread out of its blocking rd_kafka_poll so it sees `closed` now.
            rd_kafka_yield(handle.pointer)
            let done = pollerDone
            await BlockingWork.run("cdp.kafka.producer.close") { done.wait() }
        }
    }
}

/// Calls `body` with a pointer and length for `bytes` (nil and 0 when absent).
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
