import Foundation
import HTTP
import Log
import Model
import Pipeline
import Runtime
import Segmenter

let usage = """
usage: cdp-segmenter [--brokers HOST:PORT] [--http-addr HOST:PORT] [--admin-token TOKEN] [--topic-prefix P] [--log-level L]

Consumes cdp.profiles and cdp.config, keeps every audience's membership current (including
relative-date audiences as time passes) and publishes enters/exits to cdp.memberships.
Settings: CDP_BROKERS, CDP_HTTP_ADDR (default :8082), CDP_ADMIN_TOKEN, CDP_TOPIC_PREFIX,
CDP_LOG_LEVEL, CDP_INSTANCE_ID, CDP_SEGMENTER_GROUP (default cdp-segmenter), CDP_SESSION_TIMEOUT_MS,
CDP_DATA_DIR (local snapshots), CDP_SNAPSHOT_INTERVAL (default 30s),
CDP_KAFKA_* (librdkafka settings: CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol).
"""

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
var reader = ConfigReader(arguments: arguments)
let common = DaemonConfig.read(from: &reader, defaultHTTPAddress: ":8082", instanceDefault: "\(ProcessInfo.processInfo.hostName)-\(getpid())")
var settings = SegmenterSettings()
settings.readShared(from: &reader, common: common, groupEnv: "CDP_SEGMENTER_GROUP", defaultGroup: "cdp-segmenter")
do {
    try reader.finish()
} catch {
    exitWithConfigError(error, program: "cdp-segmenter")
}
await runDaemon(label: "segmenter", common: common) { client, logger, metrics in
    try SegmenterApp(client: client, settings: settings, logger: logger, metrics: metrics)
}
