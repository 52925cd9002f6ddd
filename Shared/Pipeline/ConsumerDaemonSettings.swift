import Runtime
import Model

/// The settings every consuming daemon (resolver, segmenter, exporter) shares, and one place
/// that reads them from `CDP_*` variables and flags.
public protocol ConsumerDaemonSettings {
    var topics: PipelineTopics { get set }
    var adminToken: String? { get set }
    var instanceID: String { get set }
    var groupID: String { get set }
    var sessionTimeoutMs: Int { get set }
    var dataDirectory: String? { get set }
    var snapshotIntervalMs: Int64 { get set }
}

extension ConsumerDaemonSettings {
    /// Fills the shared settings from the common daemon configuration and reads the consumer
    /// group (`groupEnv`, `--group`), `CDP_SESSION_TIMEOUT_MS` and `CDP_SNAPSHOT_INTERVAL`.
    public mutating func readShared(from reader: inout ConfigReader, common: DaemonConfig, groupEnv: String, defaultGroup: String) {
        topics = PipelineTopics(prefix: common.topicPrefix)
        adminToken = common.adminToken
        instanceID = common.instanceID
        dataDirectory = common.dataDirectory
        groupID = reader.string(env: groupEnv, flag: "--group", default: defaultGroup)
        sessionTimeoutMs = reader.int(env: "CDP_SESSION_TIMEOUT_MS", flag: "--session-timeout-ms", default: 10_000, range: 6000...300_000)
        snapshotIntervalMs = Int64(reader.duration(env: "CDP_SNAPSHOT_INTERVAL", flag: "--snapshot-interval", default: .seconds(30)).components.seconds * 1000)
    }
}
