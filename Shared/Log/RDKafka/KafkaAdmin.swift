import CRdKafka
import Foundation
import Runtime

/// Topic administration over librdkafka's Admin API and metadata requests.
public final class KafkaAdmin: LogAdmin {
    private let handle: RDKafkaHandle
    private let context: RDKafkaContext
    private let timeoutMs: Int32

    /// `extra`: librdkafka settings applied last (the operator's `CDP_KAFKA_*`).
    public init(brokers: String, logger: Logger, timeoutMs: Int = 10_000, extra: [String: String] = [:]) throws(LogError) {
        var config = RDKafkaConfig()
        config["bootstrap.servers"] = brokers
        config["client.id"] = "cdp-admin"
        config["reconnect.backoff.max.ms"] = "1000"
        config.merge(extra)
        self.context = RDKafkaContext(logger: logger)
        self.timeoutMs = Int32(timeoutMs)
        let conf = try config.make()
        context.install(on: conf, deliveries: false, rebalance: false)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw LogError.configuration(RDKafkaError.string(errstr))
        }
        handle = RDKafkaHandle(pointer: rk)
        _ = Unmanaged.passRetained(context)
    }

    deinit {
        rd_kafka_destroy(handle.pointer)
        Unmanaged.passUnretained(context).release()
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () -> Result<T, LogError>) async throws(LogError) -> T {
        // Admin and metadata requests block for a broker round trip.
        try await BlockingWork.run("cdp.kafka.admin", body).get()
    }

    public func createTopics(_ specs: [TopicSpec]) async throws(LogError) {
        guard !specs.isEmpty else { return }
        let handle = self.handle
        let timeout = timeoutMs
        try await blocking { () -> Result<Void, LogError> in
            var errstr = [CChar](repeating: 0, count: 512)
            var topics: [OpaquePointer?] = []
            defer { for t in topics { rd_kafka_NewTopic_destroy(t) } }
            for spec in specs {
                guard let topic = rd_kafka_NewTopic_new(spec.name, Int32(spec.partitions), Int32(spec.replicationFactor), &errstr, errstr.count) else {
                    return .failure(.request(code: "INVALID_TOPIC", message: "\(spec.name): \(RDKafkaError.string(errstr))"))
                }
                topics.append(topic)
                for (key, value) in spec.configs.sorted(by: { $0.key < $1.key }) {
                    let err = rd_kafka_NewTopic_set_config(topic, key, value)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(RDKafkaError.request(err, "\(spec.name) config \(key)")) }
                }
            }
            let queue = rd_kafka_queue_new(handle.pointer)
            defer { rd_kafka_queue_destroy(queue) }
            let adminOptions = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(adminOptions) }
            _ = rd_kafka_AdminOptions_set_operation_timeout(adminOptions, timeout, &errstr, errstr.count)
            topics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle.pointer, buffer.baseAddress, buffer.count, adminOptions, queue)
            }
            guard let event = rd_kafka_queue_poll(queue, timeout + 2000) else {
                return .failure(.timedOut("create topics"))
            }
            defer { rd_kafka_event_destroy(event) }
            let eventErr = rd_kafka_event_error(event)
            if eventErr != RD_KAFKA_RESP_ERR_NO_ERROR {
                let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
                return .failure(.request(code: RDKafkaError.name(eventErr), message: "create topics: \(text.isEmpty ? RDKafkaError.message(eventErr) : text)"))
            }
            guard let result = rd_kafka_event_CreateTopics_result(event) else {
                return .failure(.request(code: "UNEXPECTED", message: "create topics: no result"))
            }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return .success(()) }
            for i in 0..<count {
                let r = results[i]
                let err = rd_kafka_topic_result_error(r)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
                let name = String(cString: rd_kafka_topic_result_name(r))
                let text = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? RDKafkaError.message(err)
                return .failure(.request(code: RDKafkaError.name(err), message: "create topic \(name): \(text)"))
            }
            return .success(())
        }
    }

    public func listTopics() async throws(LogError) -> [TopicInfo] {
        let handle = self.handle
        let timeout = timeoutMs
        return try await blocking { () -> Result<[TopicInfo], LogError> in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeout)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                return .failure(RDKafkaError.request(err, "list topics"))
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var out: [TopicInfo] = []
            for i in 0..<Int(metadata.pointee.topic_cnt) {
                let t = metadata.pointee.topics[i]
                let name = String(cString: t.topic)
                if name.hasPrefix("__") || t.err != RD_KAFKA_RESP_ERR_NO_ERROR { continue }
                out.append(TopicInfo(name: name, partitions: Int(t.partition_cnt)))
            }
            return .success(out.sorted { $0.name < $1.name })
        }
    }
}
