import CRdKafka
import Runtime

/// librdkafka settings kept as Swift strings until one flattening into `rd_kafka_conf_t`.
struct RDKafkaConfig {
    var settings: [(String, String)] = []

    subscript(key: String) -> String? {
        get { settings.last { $0.0 == key }?.1 }
        set {
            settings.removeAll { $0.0 == key }
            if let newValue { settings.append((key, newValue)) }
        }
    }

    mutating func merge(_ extra: [String: String]) {
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { self[k] = v }
    }

    /// A new `rd_kafka_conf_t` (the caller passes it to `rd_kafka_new`, which takes ownership).
    func make() throws(LogError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in settings {
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw LogError.configuration("\(KafkaSettings.describe(key, value)): \(RDKafkaError.string(errstr))")
            }
        }
        return conf
    }
}

/// Conversions from librdkafka error codes to `LogError`, in one place.
enum RDKafkaError {
    static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func name(_ err: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2name(err))
    }

    static func message(_ err: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2str(err))
    }

    /// Errors a retry can fix (timeouts, leader moves, transport).
    static func isRetriable(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
             RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
             RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
            true
        default:
            false
        }
    }

    static func delivery(_ err: rd_kafka_resp_err_t) -> LogError {
        if err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT {
            return .timedOut("record not acknowledged by the broker (\(message(err)))")
        }
        return .delivery(code: name(err), message: message(err), retriable: isRetriable(err))
    }

    static func request(_ err: rd_kafka_resp_err_t, _ what: String) -> LogError {
        if err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
            return .timedOut("\(what): \(message(err))")
        }
        return .request(code: name(err), message: "\(what): \(message(err))")
    }

    /// Converts and frees an `rd_kafka_error_t`.
    static func consume(_ error: OpaquePointer, _ what: String) -> LogError {
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        if rd_kafka_error_is_fatal(error) != 0 { return .fatal("\(what): \(text)") }
        return .request(code: name(code), message: "\(what): \(text)")
    }
}

/// Copies of C-side values as Swift values.
enum RDKafkaCopy {
    static func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The headers of a message (copied; librdkafka owns the originals).
    static func headers(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [RecordHeader] {
        var hdrs: OpaquePointer?
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var out: [RecordHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(hdrs, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            out.append(RecordHeader(name.map { String(cString: $0) } ?? "", bytes))
            index += 1
        }
        return out
    }
}

/// A partition list built from Swift values and destroyed after use.
final class RDKafkaPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ offsets: [TopicPartition: Int64]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(1, offsets.count)))
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition).pointee.offset = offset
        }
    }

    init(topics: [String]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(1, topics.count)))
        for topic in topics { rd_kafka_topic_partition_list_add(pointer, topic, RD_KAFKA_PARTITION_UA) }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// (partition, offset, error) for each element.
    static func read(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartition, Int64, rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return (TopicPartition(String(cString: e.topic), e.partition), e.offset, e.err)
        }
    }
}

/// A C handle that may cross threads; librdkafka's handles are thread-safe.
struct RDKafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
