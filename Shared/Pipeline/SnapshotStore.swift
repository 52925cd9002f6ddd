import Foundation
import Model
import Runtime

/// A daemon's local snapshots under `CDP_DATA_DIR`: one file per partition
/// (`<daemon>-<topic>-<partition>.snapshot`), written atomically, checked on load. A corrupt or
/// mismatched file is ignored with a warning and counted, never trusted.
public final class SnapshotStore: Sendable {
    public let directory: String?
    let daemon: String
    let logger: Logger
    public let written: Counter
    public let restored: Counter
    public let rejected: Counter

    public init(directory: String?, daemon: String, logger: Logger, metrics: MetricsRegistry) {
        self.directory = directory
        self.daemon = daemon
        self.logger = logger
        written = metrics.counter("\(daemon)_snapshots_written_total", help: "Partition snapshots written to CDP_DATA_DIR")
        restored = metrics.counter("\(daemon)_snapshots_restored_total", help: "Partitions restored from a snapshot at assignment")
        rejected = metrics.counter("\(daemon)_snapshots_rejected_total", help: "Snapshots ignored as corrupt or mismatched")
    }

    public var enabled: Bool { directory != nil }

    public func path(topic: String, partition: Int32) -> String? {
        directory.map { "\($0)/\(daemon)-\(topic)-\(partition).snapshot" }
    }

    /// The newest snapshot's offset and state, if there is a valid one.
    public func load(topic: String, partition: Int32) -> (offset: Int64, state: JSONValue)? {
        guard let path = path(topic: topic, partition: partition), let data = FileManager.default.contents(atPath: path) else { return nil }
        switch SnapshotFile.decode(Array(data), topic: topic, partition: partition) {
        case .failure(let problem):
            reject(topic: topic, partition: partition, problem.description)
            return nil
        case .success(let loaded):
            return loaded
        }
    }

    /// A snapshot whose contents the daemon could not use.
    public func reject(topic: String, partition: Int32, _ why: String) {
        rejected.inc()
        logger.warning("ignoring snapshot; rebuilding from the log", ["topic": topic, "partition": String(partition), "problem": why])
    }

    /// Counts a successful restore and says so in the log.
    public func noteRestored(topic: String, partition: Int32, offset: Int64, _ details: [String: String] = [:]) {
        restored.inc()
        logger.info("restored from snapshot", ["topic": topic, "partition": String(partition), "offset": String(offset)].merging(details) { a, _ in a })
    }

    public func save(topic: String, partition: Int32, offset: Int64, state: JSONValue) {
        guard let path = path(topic: topic, partition: partition) else { return }
        do {
            try SnapshotFile.write(SnapshotFile.encode(topic: topic, partition: partition, offset: offset, state: state), to: path)
            written.inc()
        } catch {
            logger.warning("snapshot not written", ["topic": topic, "partition": String(partition), "error": "\(error)"])
        }
    }
}
