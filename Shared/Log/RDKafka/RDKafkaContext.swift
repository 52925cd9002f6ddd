import CRdKafka
import Runtime
import Synchronization

/// State that librdkafka's callbacks reach through the client's opaque pointer: delivery
/// completions, rebalance hooks, the current assignment and connectivity.
final class RDKafkaContext: Sendable {
    /// The operator's `CDP_KAFKA_*` settings go to every client, so a consumer-only property
    /// reaches producers (and the other way round); librdkafka warns that it ignores it there.
    /// Expected, so logged at debug level, not as a warning of every daemon's start.
    static func isExpectedScopeWarning(facility: String, _ text: String) -> Bool {
        facility == "CONFWARN" && (text.contains("is a consumer property and will be ignored by this producer instance")
            || text.contains("is a producer property and will be ignored by this consumer instance"))
    }

    typealias Completion = @Sendable (Result<RecordMetadata, LogError>) -> Void

    let logger: Logger
    let hooks = Mutex(RebalanceHooks())
    let assignment = Mutex<Set<TopicPartition>>([])
    let fatalError = Mutex<String?>(nil)
    let hasFatalError = AtomicFlag()
    /// Records produced and not yet reported (producers only).
    let inFlight = AtomicInt()
    /// Wall-clock ms when every broker was last seen down (0 = reachable). I/O edge only.
    let allBrokersDownSinceMs = Atomic<Int64>(0)

    init(logger: Logger) {
        self.logger = logger
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaContext? {
        opaque.map { Unmanaged<RDKafkaContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Installs the log, error, delivery and rebalance callbacks and makes `self` the opaque.
    /// The caller keeps `self` alive (retained) until `rd_kafka_destroy` returns.
    func install(on conf: OpaquePointer, deliveries: Bool, rebalance: Bool) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, buffer in
            guard let rk, let context = RDKafkaContext.from(rd_kafka_opaque(rk)) else { return }
            let fac = facility.map { String(cString: $0) } ?? ""
            let text = buffer.map { String(cString: $0) } ?? ""
            context.logger.log(level <= 4 && !RDKafkaContext.isExpectedScopeWarning(facility: fac, text) ? .warning : .debug,
                               "librdkafka: \(text)", ["facility": fac])
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, opaque in
            guard let context = RDKafkaContext.from(opaque) else { return }
            let text = reason.map { String(cString: $0) } ?? ""
            if RDKafkaError.isRetriable(rd_kafka_resp_err_t(err)) {
                if rd_kafka_resp_err_t(err) == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
                    _ = context.allBrokersDownSinceMs.compareExchange(expected: 0, desired: Timestamp.nowMs(), ordering: .relaxed)
                }
                context.logger.debug("kafka client error (will retry)", ["code": RDKafkaError.name(rd_kafka_resp_err_t(err)), "reason": text])
                return
            }
            if rd_kafka_resp_err_t(err) == RD_KAFKA_RESP_ERR__FATAL, let rk {
                var errstr = [CChar](repeating: 0, count: 512)
                let code = rd_kafka_fatal_error(rk, &errstr, errstr.count)
                let message = "\(RDKafkaError.name(code)): \(RDKafkaError.string(errstr))"
                context.fatalError.withLock { $0 = message }
                context.hasFatalError.store(true)
                context.logger.error("fatal kafka client error", ["error": message])
                return
            }
            context.logger.warning("kafka client error", ["code": RDKafkaError.name(rd_kafka_resp_err_t(err)), "reason": text])
        }
        if deliveries {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let ticketPointer = message.pointee._private else { return }
                let ticket = Unmanaged<DeliveryTracker>.fromOpaque(ticketPointer).takeRetainedValue()
                let context = RDKafkaContext.from(opaque)
                context?.inFlight.subtract(1)
                let err = message.pointee.err
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    if let context, context.allBrokersDownSinceMs.load(ordering: .relaxed) != 0 {
                        context.allBrokersDownSinceMs.store(0, ordering: .relaxed)
                    }
                    ticket.completion(.success(RecordMetadata(topic: ticket.topic, partition: message.pointee.partition, offset: message.pointee.offset)))
                } else {
                    ticket.completion(.failure(err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ? .closed : RDKafkaError.delivery(err)))
                }
            }
        }
        if rebalance {
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let context = RDKafkaContext.from(opaque) else { return }
                let list = partitions.map { RDKafkaPartitionList.read($0).map(\.0) } ?? []
                let hooks = context.hooks.withLock { $0 }
                if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
                    // The hook runs before fetching starts: the daemon restores state here.
                    hooks.onAssign(list)
                    context.assignment.withLock { $0.formUnion(list) }
                    if let partitions {
                        let starts = hooks.startOffsets(list)
                        for i in 0..<Int(partitions.pointee.cnt) {
                            let e = partitions.pointee.elems[i]
                            if let offset = starts[TopicPartition(String(cString: e.topic), e.partition)] {
                                partitions.pointee.elems[i].offset = offset
                            }
                        }
                    }
                    if rd_kafka_rebalance_protocol(rk).map({ String(cString: $0) }) == "COOPERATIVE" {
                        if let e = rd_kafka_incremental_assign(rk, partitions) { rd_kafka_error_destroy(e) }
                    } else {
                        rd_kafka_assign(rk, partitions)
                    }
                } else {
                    // Revocation: the hook runs before another member can read these partitions.
                    hooks.onRevoke(list)
                    context.assignment.withLock { $0.subtract(list) }
                    if rd_kafka_rebalance_protocol(rk).map({ String(cString: $0) }) == "COOPERATIVE" {
                        if let e = rd_kafka_incremental_unassign(rk, partitions) { rd_kafka_error_destroy(e) }
                    } else {
                        rd_kafka_assign(rk, nil)
                    }
                }
            }
        }
    }
}
