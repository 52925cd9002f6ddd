import Collector
import ExportCore
import Foundation
import HTTP
import Log
import Model
import Pipeline
import Runtime

let usage = """
usage: cdp-collector [--brokers HOST:PORT] [--http-addr HOST:PORT] [--admin-token TOKEN] [--topic-prefix P]
                     [--max-body-bytes N] [--max-event-bytes N] [--max-events N] [--log-level L]

The front door: the collect API (POST /collect/json/{stream}, Segment-compatible /v1/*) writes
events to cdp.events; the config API (accounts, API keys, ...) writes to cdp.config. Stateless:
run as many as you like behind a load balancer. Settings come from CDP_* variables or flags:
  CDP_BROKERS, CDP_HTTP_ADDR (default :8080), CDP_ADMIN_TOKEN, CDP_TOPIC_PREFIX, CDP_LOG_LEVEL,
  CDP_INSTANCE_ID, CDP_COLLECT_MAX_BODY_BYTES (10 MiB), CDP_COLLECT_MAX_EVENT_BYTES (256 KiB),
  CDP_COLLECT_MAX_EVENTS (10000), CDP_EXPORT_FILE_ROOT and CDP_EXPORT_ALLOWED_HOSTS (as the
  exporter's: what export jobs may reach),
  CDP_KAFKA_* (librdkafka settings: CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol).
"""

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
var reader = ConfigReader(arguments: arguments)
let host = ProcessInfo.processInfo.hostName
let common = DaemonConfig.read(from: &reader, defaultHTTPAddress: ":8080", instanceDefault: "\(host)-\(getpid())")
var settings = CollectorSettings()
settings.topics = PipelineTopics(prefix: common.topicPrefix)
settings.adminToken = common.adminToken
settings.instanceID = common.instanceID
let maxBody = reader.int(env: "CDP_COLLECT_MAX_BODY_BYTES", flag: "--max-body-bytes", default: 10 * 1024 * 1024, range: 1024...(1 << 30))
settings.limits = CollectLimits(
    maxEventBytes: reader.int(env: "CDP_COLLECT_MAX_EVENT_BYTES", flag: "--max-event-bytes", default: 256 * 1024, range: 256...(16 << 20)),
    maxEventsPerRequest: reader.int(env: "CDP_COLLECT_MAX_EVENTS", flag: "--max-events", default: 10_000, range: 1...1_000_000))
settings.destinations = reader.destinationPolicy()
do {
    try reader.finish()
} catch {
    exitWithConfigError(error, program: "cdp-collector")
}
if common.adminToken == nil {
    FileHandle.standardError.write(Data("cdp-collector: warning: CDP_ADMIN_TOKEN is not set; only API keys made earlier can be used\n".utf8))
}

var options = HTTPServerOptions()
options.limits.maxBodyBytes = maxBody
await runDaemon(label: "collector", common: common, httpOptions: options) { client, logger, metrics in
    try CollectorApp(client: client, settings: settings, logger: logger, metrics: metrics)
}
