import Foundation
import Log
import Model
import Runtime

/// The collector's in-memory view of `cdp.config`: rebuilt from the beginning of the topic at
/// start, then kept current. Writers wait here until their own record has been applied, so a
/// write is visible to the next read on this collector and its outcome (applied or conflict)
/// is the one every reader of the log computes.
public final class ConfigView: Service, @unchecked Sendable {
    public let name = "config-view"
    private let client: any LogClient
    private let topic: String
    private let clientID: String
    private let logger: Logger
    private let state = Locked(ConfigState())

    private struct Progress {
        /// The next offset to apply.
        var position: Int64 = 0
        /// The end of the topic when the view started; ready once `position` reaches it.
        var startHigh: Int64?
        var caughtUp = false
        /// Changes of recent offsets, for writers waiting on their record (bounded).
        var recent: [Int64: ConfigChange] = [:]
        var waiters: [Int64: [CheckedContinuation<ConfigChange?, Never>]] = [:]
    }
    private let progress = Locked(Progress())
    private let applied: Counter
    private let rejected: Counter

    public init(client: any LogClient, topics: PipelineTopics, logger: Logger, metrics: MetricsRegistry, clientID: String = "cdp-config-view") {
        self.clientID = clientID
        self.client = client
        self.topic = topics.config
        self.logger = logger
        applied = metrics.counter("config_records_applied_total", help: "cdp.config records applied to the view")
        rejected = metrics.counter("config_records_rejected_total", help: "cdp.config records that were invalid or lost a version race")
    }

    /// Reads the current state.
    public func read<R>(_ body: (ConfigState) -> R) -> R {
        state.withLock { body($0) }
    }

    public var isCaughtUp: Bool { progress.withLock { $0.caughtUp } }

    public func run() async throws {
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: nil, clientID: clientID))
        let partition = TopicPartition(topic, 0)
        try consumer.assign([partition: Offset.beginning])
        await follow(consumer, partition)
        await consumer.close()
    }

    private func follow(_ consumer: any LogConsumer, _ partition: TopicPartition) async {
        while !Task.isCancelled {
            if progress.withLock({ $0.startHigh == nil }) {
                do {
                    let marks = try await consumer.watermarks(partition)
                    progress.withLock {
                        $0.startHigh = marks.high
                        $0.position = max($0.position, marks.low)
                        if $0.position >= marks.high { $0.caughtUp = true }
                    }
                    logger.info("rebuilding configuration view", ["records": String(marks.high - marks.low)])
                } catch {
                    logger.warning("cannot read cdp.config watermarks yet", ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                    continue
                }
            }
            let records: [ConsumerRecord]
            do {
                records = try await consumer.poll(max: 1000, timeoutMs: 100)
            } catch LogError.closed {
                return
            } catch {
                logger.warning("config poll failed", ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            if records.isEmpty { continue }
            apply(records)
        }
    }

    /// Applies records in order and wakes the writers waiting for them.
    public func apply(_ records: [ConsumerRecord]) {
        var changes: [(Int64, ConfigChange)] = []
        state.withLock { s in
            for r in records {
                changes.append((r.offset, s.apply(key: r.keyString, value: r.value)))
            }
        }
        for (offset, change) in changes {
            switch change {
            case .applied, .deleted: applied.inc()
            case .conflict(let key, let expected, let current):
                rejected.inc()
                logger.debug("config write lost a version race", ["key": key.description, "based_on": String(expected), "current": String(current)])
            case .invalid(let reason):
                rejected.inc()
                logger.warning("invalid record on cdp.config ignored", ["offset": String(offset), "reason": reason])
            }
        }
        let wake: [(CheckedContinuation<ConfigChange?, Never>, ConfigChange?)] = progress.withLock { p in
            for (offset, change) in changes { p.recent[offset] = change }
            p.position = (records.last?.offset ?? p.position - 1) + 1
            if let high = p.startHigh, p.position >= high, !p.caughtUp {
                p.caughtUp = true
                logger.info("configuration view caught up", ["position": String(p.position)])
            }
            // Keep the last 10,000 changes for late waiters.
            if p.recent.count > 10_000 {
                let cutoff = p.position - 10_000
                p.recent = p.recent.filter { $0.key >= cutoff }
            }
            var out: [(CheckedContinuation<ConfigChange?, Never>, ConfigChange?)] = []
            for (offset, list) in p.waiters where offset < p.position {
                for c in list { out.append((c, p.recent[offset])) }
                p.waiters[offset] = nil
            }
            return out
        }
        for (continuation, change) in wake { continuation.resume(returning: change) }
    }

    /// Waits until the record at `offset` has been applied and returns what it did (nil on timeout).
    public func waitForApplied(offset: Int64, timeoutMs: Int = 10_000) async -> ConfigChange? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ConfigChange?, Never>) in
            let ready: ConfigChange?? = progress.withLock { p in
                if offset < p.position { return .some(p.recent[offset]) }
                p.waiters[offset, default: []].append(continuation)
                return .none
            }
            if let ready {
                continuation.resume(returning: ready)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeoutMs)) { [progress] in
                let expired: [CheckedContinuation<ConfigChange?, Never>] = progress.withLock { p in
                    defer { p.waiters[offset] = nil }
                    return p.waiters[offset] ?? []
                }
                for c in expired { c.resume(returning: nil) }
            }
        }
    }
}
