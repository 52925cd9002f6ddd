import ExportCore
import Foundation
import Log
import Model
import Runtime

/// Local snapshots under `CDP_DATA_DIR`: per partition, the memberships and profile snapshots
/// and the offsets of both topics they cover, written atomically. At assignment the newest valid
/// snapshot is restored and reading starts at its offsets — or earlier, where a lane's recorded
/// position is behind (its deliveries must be derived again). A corrupt or mismatched file is
/// ignored with a warning.
extension ExporterApp {
    /// The partition's state from its snapshot, if there is a valid one.
    func restoreSnapshot(_ partition: Int32) -> PartitionState? {
        let topic = settings.topics.memberships
        guard let (offset, state) = snapshots.load(topic: topic, partition: partition) else { return nil }
        guard let profilesNext = state["profiles_next"]?.intValue, profilesNext >= 0,
              case .object(let members)? = state["memberships"], case .object(let profiles)? = state["profiles"] else {
            snapshots.reject(topic: topic, partition: partition, "missing parts")
            return nil
        }
        var ps = PartitionState()
        ps.membershipsNext = offset
        ps.profilesNext = profilesNext
        for (key, segments) in members {
            ps.memberships[key] = Set((segments.arrayValue ?? []).compactMap(\.stringValue))
        }
        for (key, p) in profiles {
            ps.profiles[key] = ProfileSnapshot(identities: p["identities"]?.objectValue ?? [:], fields: p["fields"]?.objectValue ?? [:],
                                               version: p["version"]?.intValue ?? 0)
        }
        snapshots.noteRestored(topic: topic, partition: partition, offset: offset, ["profiles_offset": String(profilesNext), "profiles": String(ps.profiles.count)])
        return ps
    }

    /// Writes every caught-up partition's snapshot (the maps are copied under the lock and
    /// serialised outside it).
    func writeSnapshots() {
        guard snapshots.enabled else { return }
        let copies = partitions.withLock { $0.filter { $0.value.caughtUp } }
        for (partition, ps) in copies.sorted(by: { $0.key < $1.key }) {
            let state: JSONValue = [
                "profiles_next": .int(ps.profilesNext),
                "memberships": .object(ps.memberships.mapValues { .array($0.sorted().map(JSONValue.string)) }),
                "profiles": .object(ps.profiles.mapValues { ["identities": .object($0.identities), "fields": .object($0.fields), "version": .int($0.version)] }),
            ]
            snapshots.save(topic: settings.topics.memberships, partition: partition, offset: ps.membershipsNext, state: state)
        }
    }

    /// Where reading starts for a newly assigned partition of either topic: the restored
    /// snapshot's offset, moved back to the oldest recorded lane position of that partition.
    func startOffset(_ tp: TopicPartition) -> Int64 {
        let restored = partitions.withLock { parts -> Int64? in
            guard let ps = parts[tp.partition], ps.restored else { return nil }
            return tp.topic == settings.topics.memberships ? ps.membershipsNext : ps.profilesNext
        }
        guard let restored else { return Offset.beginning }
        let lanesBehind = lanes.withLock { l in
            l.values.filter { $0.key.partition == tp.partition }.map { lane in
                lane.queue.withLock { q in tp.topic == settings.topics.memberships ? q.position.memberships : q.position.profiles }
            }
        }
        let start = max(0, min(restored, lanesBehind.min() ?? restored))
        // Readiness and new lanes must see where reading really resumes.
        partitions.withLock { parts in
            if tp.topic == settings.topics.memberships { parts[tp.partition]?.membershipsNext = start } else { parts[tp.partition]?.profilesNext = start }
        }
        return start
    }
}
