import Synchronization

/// A consumer on an `InMemoryLog`: group members split partitions; hooks run inside `poll`.
public final class InMemoryConsumer: LogConsumer {
    private let log: InMemoryLog
    private let options: ConsumerOptions
    private let memberID: UInt64

    private struct Local {
        var hooks = RebalanceHooks()
        var subscribed = false
        var positions: [TopicPartition: Int64] = [:]
        var closed = false
    }
    private let local = Mutex(Local())

    init(log: InMemoryLog, options: ConsumerOptions, memberID: UInt64) {
        self.log = log
        self.options = options
        self.memberID = memberID
    }

    public var assignment: Set<TopicPartition> {
        local.withLock { Set($0.positions.keys) }
    }

    public var lag: [TopicPartition: Int64] {
        let positions = local.withLock { $0.positions }
        return log.state.withLock { s in
            var out: [TopicPartition: Int64] = [:]
            for (tp, position) in positions where position >= 0 {
                guard let partitions = s.topics[tp.topic], Int(tp.partition) < partitions.count else { continue }
                out[tp] = max(0, Int64(partitions[Int(tp.partition)].count) - position)
            }
            return out
        }
    }

    public func subscribe(_ topics: [String], hooks: RebalanceHooks) throws(LogError) {
        guard let group = options.groupID else {
            throw LogError.configuration("subscribe needs a consumer group id")
        }
        try local.withLock { l throws(LogError) in
            if l.closed { throw LogError.closed }
            l.hooks = hooks
            l.subscribed = true
        }
        log.state.withLock { s in
            s.groups[group, default: .init()].members[memberID] = .init(topics: topics)
            InMemoryLog.rebalanceAll(&s)
        }
    }

    public func assign(_ offsets: [TopicPartition: Int64]) throws(LogError) {
        let resolved = log.state.withLock { s in
            offsets.map { ($0.key, resolve($0.value, for: $0.key, in: &s)) }
        }
        try local.withLock { l throws(LogError) in
            if l.closed { throw LogError.closed }
            if l.subscribed { throw LogError.configuration("consumer is subscribed to a group; assign needs a separate consumer") }
            l.positions = Dictionary(uniqueKeysWithValues: resolved)
        }
        log.state.withLock { InMemoryLog.bump(&$0) }
    }

    /// The offset to read next for a requested start. Lock held.
    private func resolve(_ offset: Int64, for tp: TopicPartition, in s: inout InMemoryLog.State) -> Int64 {
        let high = Int64(s.topics[tp.topic].flatMap { Int(tp.partition) < $0.count ? $0[Int(tp.partition)].count : nil } ?? 0)
        switch offset {
        case Offset.beginning: return 0
        case Offset.end: return high
        case Offset.stored:
            if let group = options.groupID, let committed = s.groups[group]?.committed[tp] { return committed }
            return options.startFromBeginning ? 0 : high
        default: return max(0, offset)
        }
    }

    /// Applies a pending group rebalance: revoke what this member loses, then take what it gains
    /// once no other member still owns it.
    private func applyRebalance() {
        guard let group = options.groupID, local.withLock({ $0.subscribed && !$0.closed }) else { return }
        let hooks = local.withLock { $0.hooks }
        let revoke: [TopicPartition] = log.state.withLock { s in
            guard let member = s.groups[group]?.members[memberID] else { return [] }
            return member.owned.subtracting(member.target).sorted()
        }
        if !revoke.isEmpty {
            hooks.onRevoke(revoke)
            local.withLock { l in for tp in revoke { l.positions[tp] = nil } }
            log.state.withLock { s in
                s.groups[group]?.members[memberID]?.owned.subtract(revoke)
                InMemoryLog.bump(&s)
            }
        }
        let gained: [(TopicPartition, Int64)] = log.state.withLock { s in
            guard let groupState = s.groups[group], let member = groupState.members[memberID] else { return [] }
            let ownedByOthers = groupState.members.filter { $0.key != memberID }.values.reduce(into: Set<TopicPartition>()) { $0.formUnion($1.owned) }
            let free = member.target.subtracting(member.owned).subtracting(ownedByOthers).sorted()
            guard !free.isEmpty else { return [] }
            s.groups[group]!.members[memberID]!.owned.formUnion(free)
            return free.map { ($0, resolve(Offset.stored, for: $0, in: &s)) }
        }
        if !gained.isEmpty {
            hooks.onAssign(gained.map(\.0))
            let starts = hooks.startOffsets(gained.map(\.0))
            let resolved: [(TopicPartition, Int64)] = log.state.withLock { s in
                gained.map { tp, stored in (tp, starts[tp].map { resolve($0, for: tp, in: &s) } ?? stored) }
            }
            local.withLock { l in for (tp, offset) in resolved { l.positions[tp] = offset } }
        }
    }

    public func poll(max: Int, timeoutMs: Int) async throws(LogError) -> [ConsumerRecord] {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while true {
            if local.withLock({ $0.closed }) { throw LogError.closed }
            applyRebalance()
            let positions = local.withLock { $0.positions }
            let (records, version): ([ConsumerRecord], UInt64) = log.state.withLock { s in
                var out: [ConsumerRecord] = []
                for tp in positions.keys.sorted() {
                    guard out.count < max, let partitions = s.topics[tp.topic], Int(tp.partition) < partitions.count else { continue }
                    let records = partitions[Int(tp.partition)]
                    var offset = Int(positions[tp]!)
                    while offset < records.count, out.count < max {
                        out.append(records[offset])
                        offset += 1
                    }
                }
                return (out, s.version)
            }
            if !records.isEmpty {
                local.withLock { l in
                    for r in records where l.positions[r.topicPartition] != nil {
                        l.positions[r.topicPartition] = r.offset + 1
                    }
                }
                return records
            }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return [] }
            let ms = Int(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            await log.waitForChange(after: version, timeoutMs: Swift.max(1, ms))
        }
    }

    public func commit(_ offsets: [TopicPartition: Int64]) async throws(LogError) {
        guard let group = options.groupID else { throw LogError.configuration("commit needs a consumer group id") }
        log.state.withLock { s in
            for (tp, offset) in offsets { s.groups[group, default: .init()].committed[tp] = offset }
        }
    }

    public func committed(_ partitions: [TopicPartition]) async throws(LogError) -> [TopicPartition: Int64] {
        guard let group = options.groupID else { return [:] }
        return log.state.withLock { s in
            var out: [TopicPartition: Int64] = [:]
            for tp in partitions { out[tp] = s.groups[group]?.committed[tp] }
            return out
        }
    }

    public func seek(_ partition: TopicPartition, to offset: Int64) async throws(LogError) {
        let resolved = log.state.withLock { s in resolve(offset, for: partition, in: &s) }
        try local.withLock { l throws(LogError) in
            guard l.positions[partition] != nil else {
                throw LogError.request(code: "UNKNOWN_PARTITION", message: "\(partition) is not assigned to this consumer")
            }
            l.positions[partition] = resolved
        }
    }

    public func watermarks(_ partition: TopicPartition) async throws(LogError) -> Watermarks {
        try log.state.withLock { s throws(LogError) in
            guard let partitions = s.topics[partition.topic], Int(partition.partition) < partitions.count, partition.partition >= 0 else {
                throw LogError.request(code: "UNKNOWN_TOPIC_OR_PART", message: "no partition \(partition)")
            }
            return Watermarks(low: 0, high: Int64(partitions[Int(partition.partition)].count))
        }
    }

    public func close() async {
        let (hooks, owned, wasOpen) = local.withLock { l in
            defer { l.closed = true; l.positions = [:] }
            return (l.hooks, l.subscribed ? l.positions.keys.sorted() : [], !l.closed)
        }
        guard wasOpen else { return }
        if !owned.isEmpty { hooks.onRevoke(owned) }
        if let group = options.groupID {
            log.state.withLock { s in
                s.groups[group]?.members[memberID] = nil
                InMemoryLog.rebalanceAll(&s)
            }
        }
    }
}
