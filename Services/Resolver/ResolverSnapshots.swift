import Foundation
import IdentityCore
import Log
import Model
import Runtime

/// Local snapshots under `CDP_DATA_DIR`: one file per partition with the graphs of its accounts
/// and the offset they cover, written atomically after a commit, restored at assignment (then
/// the log after that offset is replayed). A file that is corrupt or written for another
/// partition is ignored with a warning, never trusted.
extension ResolverApp {
    func snapshotPath(_ tp: TopicPartition) -> String? {
        settings.dataDirectory.map { "\($0)/resolver-\(tp.topic)-\(tp.partition).snapshot" }
    }

    /// Restores the partition's accounts from its snapshot; returns the offset to read from.
    func restoreSnapshot(_ tp: TopicPartition) -> Int64? {
        guard let path = snapshotPath(tp), let data = FileManager.default.contents(atPath: path) else { return nil }
        switch SnapshotFile.decode(Array(data), topic: tp.topic, partition: tp.partition) {
        case .failure(let problem):
            snapshotsRejected.inc()
            logger.warning("ignoring snapshot; rebuilding from the log", ["partition": tp.description, "problem": problem.description])
            return nil
        case .success(let (offset, state)):
            var graphs: [String: IdentityGraph] = [:]
            for (account, json) in state["accounts"]?.objectValue ?? [:] {
                guard let g = IdentityGraph.restore(json, schema: schema(for: account).identity) else {
                    snapshotsRejected.inc()
                    logger.warning("ignoring snapshot with an unreadable account; rebuilding from the log", ["partition": tp.description, "account": account])
                    return nil
                }
                graphs[account] = g
            }
            state_restore(graphs, partition: tp.partition)
            snapshotsRestored.inc()
            logger.info("restored from snapshot", ["partition": tp.description, "offset": String(offset), "accounts": String(graphs.count)])
            return offset
        }
    }

    private func state_restore(_ graphs: [String: IdentityGraph], partition: Int32) {
        state.withLock { s in
            for (account, g) in graphs {
                s.graphs[account] = g
                s.accountPartition[account] = partition
            }
        }
    }

    /// Writes every assigned partition's snapshot at its current position.
    func writeSnapshots() {
        guard settings.dataDirectory != nil else { return }
        let positions = progress.positions
        for (tp, offset) in positions where offset > 0 {
            let accounts: [String: JSONValue] = state.withLock { s in
                var out: [String: JSONValue] = [:]
                for (account, partition) in s.accountPartition where partition == tp.partition {
                    if let g = s.graphs[account] { out[account] = g.snapshot() }
                }
                return out
            }
            let bytes = SnapshotFile.encode(topic: tp.topic, partition: tp.partition, offset: offset, state: ["accounts": .object(accounts)])
            do {
                try SnapshotFile.write(bytes, to: snapshotPath(tp)!)
                snapshotsWritten.inc()
            } catch {
                logger.warning("snapshot not written", ["partition": tp.description, "error": "\(error)"])
            }
        }
    }
}
