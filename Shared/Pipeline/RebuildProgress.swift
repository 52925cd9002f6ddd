import HTTP
import Log
import Runtime

/// Where a rebuilding consumer stands on each assigned partition: records before the group's
/// committed offset only rebuild state; records at or after it are live (their output is
/// published and committed). Shared by the daemons that rebuild from the log.
public final class RebuildProgress: Sendable {
    struct State {
        var assigned: Set<TopicPartition> = []
        /// The committed offset per partition (where output resumes), once known.
        var committed: [TopicPartition: Int64] = [:]
        /// The next offset to process per partition.
        var position: [TopicPartition: Int64] = [:]
        var everAssigned = false
        /// When the current rebuild began (the last assignment), until it is caught up.
        var rebuildStarted: ContinuousClock.Instant?
    }

    private let state = Locked(State())
    private let rebuildSeconds: Gauge?

    /// `rebuildSeconds`, when given, is set to the time from each assignment until every
    /// assigned partition is caught up (the rebuild proper, without the group join before it).
    public init(rebuildSeconds: Gauge? = nil) {
        self.rebuildSeconds = rebuildSeconds
    }

    /// Ends the rebuild's clock once every assigned partition reached its committed offset.
    private func noteIfCaughtUp(_ s: inout State) {
        guard let started = s.rebuildStarted else { return }
        for tp in s.assigned {
            guard let committed = s.committed[tp], (s.position[tp] ?? 0) >= committed else { return }
        }
        s.rebuildStarted = nil
        let elapsed = ContinuousClock.now - started
        rebuildSeconds?.set(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Partitions handed to this consumer (positions restart at `start`, default 0).
    public func assign(_ tps: [TopicPartition]) {
        state.withLock { s in
            s.everAssigned = true
            s.rebuildStarted = ContinuousClock.now
            s.assigned.formUnion(tps)
            for tp in tps {
                s.position[tp] = 0
                s.committed[tp] = nil
            }
        }
    }

    public func revoke(_ tps: [TopicPartition]) {
        state.withLock { s in
            s.assigned.subtract(tps)
            for tp in tps { s.position[tp] = nil }
        }
    }

    /// Sets where processing of a partition resumes (a restored snapshot's offset).
    public func setPosition(_ tp: TopicPartition, _ offset: Int64) {
        state.withLock { s in
            s.position[tp] = offset
            noteIfCaughtUp(&s)
        }
    }

    /// Where newly assigned partitions start: a restored snapshot's offset (which also becomes
    /// the processing position), else the beginning of the partition.
    public func startOffsets(_ tps: [TopicPartition], restore: (TopicPartition) -> Int64?) -> [TopicPartition: Int64] {
        var starts: [TopicPartition: Int64] = [:]
        for tp in tps {
            if let offset = restore(tp) {
                starts[tp] = offset
                setPosition(tp, offset)
            } else {
                starts[tp] = Offset.beginning
            }
        }
        return starts
    }

    /// Fetches the committed offsets of partitions that do not have one yet (none → 0).
    public func learnCommitted(from consumer: any LogConsumer) async {
        let unknown = state.withLock { s in s.assigned.filter { s.committed[$0] == nil } }
        guard !unknown.isEmpty else { return }
        let committed = (try? await consumer.committed(Array(unknown))) ?? [:]
        state.withLock { s in
            for tp in unknown { s.committed[tp] = committed[tp] ?? 0 }
            noteIfCaughtUp(&s)
        }
    }

    /// Records that `record` has been processed; returns whether it is live.
    public func advance(past record: ConsumerRecord) -> Bool {
        state.withLock { s in
            let tp = record.topicPartition
            s.position[tp] = record.offset + 1
            noteIfCaughtUp(&s)
            return record.offset >= (s.committed[tp] ?? .max)
        }
    }

    /// Whether each record is live (at or past its partition's committed offset); positions do
    /// not move (see `advance(pastAll:runs:)`). `runs` are the records' `partitionRuns`.
    public func liveness(_ records: [ConsumerRecord], runs: [PartitionRun]) -> [Bool] {
        var live = [Bool](repeating: false, count: records.count)
        state.withLock { s in
            for (tp, range) in runs {
                let committed = s.committed[tp] ?? .max
                for i in range { live[i] = records[i].offset >= committed }
            }
        }
        return live
    }

    /// Records that a batch has been processed: each partition's position moves past it.
    public func advance(pastAll records: [ConsumerRecord], runs: [PartitionRun]) {
        state.withLock { s in
            for (tp, range) in runs { s.position[tp] = records[range.upperBound - 1].offset + 1 }
            noteIfCaughtUp(&s)
        }
    }

    /// Notes offsets committed by this consumer.
    public func committed(_ offsets: [TopicPartition: Int64]) {
        state.withLock { s in for (tp, o) in offsets { s.committed[tp] = max(s.committed[tp] ?? 0, o) } }
    }

    /// Each assigned partition and its next offset.
    public var positions: [(TopicPartition, Int64)] {
        state.withLock { s in s.assigned.sorted().map { ($0, s.position[$0] ?? 0) } }
    }

    /// Ready once something was assigned and every assigned partition reached its committed offset.
    public func readiness(topic: String) -> Readiness {
        state.withLock { s in
            if !s.everAssigned { return .notReady("waiting for partitions of \(topic)") }
            for tp in s.assigned.sorted() {
                guard let committed = s.committed[tp] else { return .notReady("reading the committed offset of \(tp)") }
                if (s.position[tp] ?? 0) < committed { return .notReady("rebuilding \(tp) (\(s.position[tp] ?? 0) of \(committed))") }
            }
            return .ready
        }
    }

    public var caughtUp: Bool { readiness(topic: "") == .ready }
}

extension LogConsumer {
    /// One poll for a rebuilding daemon: waits for the configuration view first; nil when the
    /// consumer was closed; an empty batch on a transient error (logged).
    public func pollBatch(max: Int = 2000, view: ConfigView, logger: Logger) async -> [ConsumerRecord]? {
        if !view.isCaughtUp {
            // Schemas and audiences come from cdp.config: wait for it before the first record.
            try? await Task.sleep(for: .milliseconds(50))
            return []
        }
        do {
            return try await poll(max: max, timeoutMs: 100)
        } catch LogError.closed {
            return nil
        } catch {
            logger.warning("poll failed", ["error": "\(error)"])
            return []
        }
    }
}
