import ExportCore
import Exporter
import Foundation
import HTTP
import Log
import Model
import Pipeline
import Runtime

let usage = """
usage: cdp-exporter [--brokers HOST:PORT] [--http-addr HOST:PORT] [--admin-token TOKEN] [--topic-prefix P] [--log-level L]

Consumes cdp.memberships, cdp.profiles and cdp.config and delivers audience enters, exits and
trigger-field updates to each export job's destination (signed webhooks, CSV/NDJSON files),
recording what it delivered in cdp.exports.
Settings: CDP_BROKERS, CDP_HTTP_ADDR (default :8083), CDP_ADMIN_TOKEN, CDP_TOPIC_PREFIX,
CDP_LOG_LEVEL, CDP_INSTANCE_ID, CDP_EXPORTER_GROUP (default cdp-exporter), CDP_SESSION_TIMEOUT_MS,
CDP_EXPORTER_RETRY_BASE_MS (default 1000), CDP_EXPORTER_RETRY_MAX_MS (default 300000),
CDP_EXPORTER_QUEUE_LIMIT (events per job and partition, default 100000),
CDP_EXPORTER_HTTP_TIMEOUT_S (default 30), CDP_EXPORT_FILE_ROOT (file exports of account A only under
<root>/A; unset: any absolute directory), CDP_EXPORT_ALLOWED_HOSTS (webhook and alert hosts, e.g.
hooks.example.com,*.example.org; unset: any), CDP_DATA_DIR (local snapshots), CDP_SNAPSHOT_INTERVAL (default 30s),
CDP_KAFKA_* (librdkafka settings: CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol).
"""

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
var reader = ConfigReader(arguments: arguments)
let common = DaemonConfig.read(from: &reader, defaultHTTPAddress: ":8083", instanceDefault: "\(ProcessInfo.processInfo.hostName)-\(getpid())")
var settings = ExporterSettings()
settings.readShared(from: &reader, common: common, groupEnv: "CDP_EXPORTER_GROUP", defaultGroup: "cdp-exporter")
let base = reader.int(env: "CDP_EXPORTER_RETRY_BASE_MS", flag: "--retry-base-ms", default: 1000, range: 1...600_000)
let longest = reader.int(env: "CDP_EXPORTER_RETRY_MAX_MS", flag: "--retry-max-ms", default: 300_000, range: 1...3_600_000)
settings.retry = RetryPolicy(baseMs: Int64(base), maxMs: Int64(max(base, longest)))
settings.laneQueueLimit = reader.int(env: "CDP_EXPORTER_QUEUE_LIMIT", flag: "--queue-limit", default: 100_000, range: 100...10_000_000)
settings.httpTimeoutSeconds = Double(reader.int(env: "CDP_EXPORTER_HTTP_TIMEOUT_S", flag: "--http-timeout-s", default: 30, range: 1...600))
settings.destinations = reader.destinationPolicy()
do {
    try reader.finish()
} catch {
    exitWithConfigError(error, program: "cdp-exporter")
}
await runDaemon(label: "exporter", common: common) { client, logger, metrics in
    try ExporterApp(client: client, settings: settings, logger: logger, metrics: metrics)
}
