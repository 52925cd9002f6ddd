import Foundation
import Runtime
import Synchronization

/// A log held in memory with Kafka's semantics that matter to the pipeline: partitioned topics
/// (auto-created with `defaultPartitions`), keyed records placed by murmur2, offsets, consumer
/// groups that split partitions with rebalance hooks, committed offsets and watermarks.
///
/// `setAvailable(false)` simulates an unreachable broker: sends stay in flight (and fail after
/// the producer's delivery timeout) until it is available again.
public final class InMemoryLog: LogClient, Sendable {
    public let defaultPartitions: Int

    struct Waiter {
        var continuation: CheckedContinuation<Void, Never>
    }

    struct PendingSend {
        var id: UInt64
        var record: ProducerRecord
        var producer: InMemoryProducer
        var completion: @Sendable (Result<RecordMetadata, LogError>) -> Void
    }

    struct Member {
        var topics: [String]
        /// Partitions this member reads now.
        var owned: Set<TopicPartition> = []
        /// The assignment the group computed; applied at the member's next poll.
        var target: Set<TopicPartition> = []
    }

    struct Group {
        var members: [UInt64: Member] = [:]
        var committed: [TopicPartition: Int64] = [:]
    }

    struct State {
        var topics: [String: [[ConsumerRecord]]] = [:]
        var topicConfigs: [String: [String: String]] = [:]
        var groups: [String: Group] = [:]
        var available = true
        var unavailableSinceMs: Int64 = 0
        var pending: [PendingSend] = []
        var waiters: [UInt64: Waiter] = [:]
        var version: UInt64 = 0
        var nextID: UInt64 = 1
        var roundRobin: Int = 0
    }

    let state = Mutex(State())

    /// The largest record (key + value + headers) a producer accepts: librdkafka's default
    /// `message.max.bytes`, so that what fails on Kafka fails here too.
    public let maxRecordBytes: Int

    public init(defaultPartitions: Int = 4, maxRecordBytes: Int = 1_000_000) {
        precondition(defaultPartitions > 0)
        self.defaultPartitions = defaultPartitions
        self.maxRecordBytes = maxRecordBytes
    }

    public func makeProducer(_ options: ProducerOptions) throws(LogError) -> any LogProducer {
        InMemoryProducer(log: self, options: options)
    }

    public func makeConsumer(_ options: ConsumerOptions) throws(LogError) -> any LogConsumer {
        InMemoryConsumer(log: self, options: options, memberID: state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        })
    }

    public func makeAdmin() throws(LogError) -> any LogAdmin {
        InMemoryAdmin(log: self)
    }

    /// Simulates the broker going away (`false`) and coming back (`true`).
    public func setAvailable(_ available: Bool) {
        let delivered: [(PendingSend, Result<RecordMetadata, LogError>)] = state.withLock { s in
            if !available, s.available { s.unavailableSinceMs = Timestamp.nowMs() }
            s.available = available
            guard available else { return [] }
            s.unavailableSinceMs = 0
            let pending = s.pending
            s.pending = []
            let results = pending.map { p in (p, Result<RecordMetadata, LogError>.success(Self.append(p.record, to: &s, defaultPartitions: defaultPartitions))) }
            if !results.isEmpty { Self.bump(&s) }
            return results
        }
        for (pending, result) in delivered {
            pending.producer.finished()
            pending.completion(result)
        }
    }

    /// For how long the log has been unavailable (ms; 0 when available).
    public var unreachableForMs: Int64 {
        state.withLock { s in s.available ? 0 : max(0, Timestamp.nowMs() - s.unavailableSinceMs) }
    }

    /// Every record of a partition (tests).
    public func records(_ partition: TopicPartition) -> [ConsumerRecord] {
        state.withLock { s in
            guard let partitions = s.topics[partition.topic], Int(partition.partition) < partitions.count else { return [] }
            return partitions[Int(partition.partition)]
        }
    }

    // MARK: - Used by the in-memory clients (call with the lock held where marked)

    /// Appends and returns the metadata. Lock held.
    static func append(_ record: ProducerRecord, to s: inout State, defaultPartitions: Int) -> RecordMetadata {
        ensureTopic(record.topic, partitions: defaultPartitions, in: &s)
        let count = Int32(s.topics[record.topic]!.count)
        let partition: Int32
        if let p = record.partition, p >= 0, p < count {
            partition = p
        } else if let key = record.key {
            partition = Partitioner.partition(forKey: key, count: count)
        } else {
            partition = Int32(s.roundRobin % Int(count))
            s.roundRobin &+= 1
        }
        let offset = Int64(s.topics[record.topic]![Int(partition)].count)
        let stored = ConsumerRecord(topic: record.topic, partition: partition, offset: offset, key: record.key,
                                    value: record.value, headers: record.headers,
                                    timestampMs: record.timestampMs ?? Timestamp.nowMs())
        s.topics[record.topic]![Int(partition)].append(stored)
        return RecordMetadata(topic: record.topic, partition: partition, offset: offset)
    }

    /// Lock held.
    static func ensureTopic(_ name: String, partitions: Int, in s: inout State) {
        guard s.topics[name] == nil else { return }
        s.topics[name] = Array(repeating: [], count: partitions)
        rebalanceAll(&s)
    }

    /// Recomputes every group's target assignment: per topic, partitions are dealt round-robin
    /// to the members subscribed to it, in member order. Lock held.
    static func rebalanceAll(_ s: inout State) {
        for name in s.groups.keys { rebalance(group: name, &s) }
        bump(&s)
    }

    static func rebalance(group name: String, _ s: inout State) {
        guard var group = s.groups[name] else { return }
        var targets: [UInt64: Set<TopicPartition>] = [:]
        let memberIDs = group.members.keys.sorted()
        let topics = Set(group.members.values.flatMap(\.topics)).sorted()
        for topic in topics {
            guard let partitions = s.topics[topic] else { continue }
            let subscribers = memberIDs.filter { group.members[$0]!.topics.contains(topic) }
            guard !subscribers.isEmpty else { continue }
            for p in 0..<partitions.count {
                targets[subscribers[p % subscribers.count], default: []].insert(TopicPartition(topic, Int32(p)))
            }
        }
        for id in memberIDs { group.members[id]!.target = targets[id] ?? [] }
        s.groups[name] = group
    }

    /// Wakes every waiting poll. Lock held.
    static func bump(_ s: inout State) {
        s.version &+= 1
        let waiters = s.waiters
        s.waiters = [:]
        for waiter in waiters.values { waiter.continuation.resume() }
    }

    /// Waits until the log changes after `version` or `timeoutMs` passes.
    func waitForChange(after version: UInt64, timeoutMs: Int) async {
        guard timeoutMs > 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { s in
                guard s.version == version else { return nil }
                let id = s.nextID
                s.nextID += 1
                s.waiters[id] = Waiter(continuation: continuation)
                return id
            }
            guard let id else {
                continuation.resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeoutMs)) { [self] in
                let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.continuation.resume()
            }
        }
    }
}

/// Topic administration on an in-memory log.
final class InMemoryAdmin: LogAdmin {
    let log: InMemoryLog
    init(log: InMemoryLog) { self.log = log }

    func createTopics(_ specs: [TopicSpec]) async throws(LogError) {
        for spec in specs where spec.partitions < 1 || spec.name.isEmpty {
            throw LogError.request(code: "INVALID_PARTITIONS", message: "topic '\(spec.name)' needs a name and at least one partition")
        }
        log.state.withLock { s in
            for spec in specs where s.topics[spec.name] == nil {
                s.topicConfigs[spec.name] = spec.configs
                InMemoryLog.ensureTopic(spec.name, partitions: spec.partitions, in: &s)
            }
        }
    }

    func listTopics() async throws(LogError) -> [TopicInfo] {
        log.state.withLock { s in
            s.topics.map { TopicInfo(name: $0.key, partitions: $0.value.count) }.sorted { $0.name < $1.name }
        }
    }
}
