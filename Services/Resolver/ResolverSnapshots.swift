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
    /// Restores the partition's accounts from its snapshot; returns the offset to read from.
    func restoreSnapshot(_ tp: TopicPartition) -> Int64? {
        guard let (offset, state) = snapshots.load(topic: tp.topic, partition: tp.partition) else { return nil }
        var graphs: [String: IdentityGraph] = [:]
        for (account, json) in state["accounts"]?.objectValue ?? [:] {
            guard let g = IdentityGraph.restore(json, schema: schema(for: account).identity, storage: settings.profileStorage) else {
                snapshots.reject(topic: tp.topic, partition: tp.partition, "account \(account) is unreadable")
                return nil
            }
            graphs[account] = g
        }
        state_restore(graphs, partition: tp.partition)
        snapshots.noteRestored(topic: tp.topic, partition: tp.partition, offset: offset, ["accounts": String(graphs.count)])
        return offset
    }

    private func state_restore(_ graphs: [String: IdentityGraph], partition: Int32) {
        for (account, g) in graphs {
            state.withAccount(account) { s in
                s.graphs[account] = g
                s.accountPartition[account] = partition
            }
        }
    }

    /// Writes every assigned partition's snapshot at its current position.
    func writeSnapshots() {
        guard snapshots.enabled else { return }
        for (tp, offset) in progress.positions where offset > 0 {
            var accounts: [String: JSONValue] = [:]
            state.forEachShard { s in
                for (account, partition) in s.accountPartition where partition == tp.partition {
                    if let g = s.graphs[account] { accounts[account] = g.snapshot() }
                }
            }
            snapshots.save(topic: tp.topic, partition: tp.partition, offset: offset, state: ["accounts": .object(accounts)])
        }
    }
}
