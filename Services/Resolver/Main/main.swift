import Foundation
import HTTP
import IdentityCore
import Log
import Model
import Resolver
import Pipeline
import Runtime

let usage = """
usage: cdp-resolver [--brokers HOST:PORT] [--http-addr HOST:PORT] [--admin-token TOKEN] [--topic-prefix P] [--log-level L]

Consumes cdp.events and cdp.config, resolves identities per account with its schema, and
publishes every changed profile to cdp.profiles. Rebuilds its partitions from the log at start
(not ready until caught up) and publishes only past the committed offset. Settings: CDP_BROKERS,
CDP_HTTP_ADDR (default :8081), CDP_ADMIN_TOKEN, CDP_TOPIC_PREFIX, CDP_LOG_LEVEL, CDP_INSTANCE_ID,
CDP_RESOLVER_GROUP (default cdp-resolver), CDP_DATA_DIR (local snapshots; restarts then read only the
log after the snapshot), CDP_SNAPSHOT_INTERVAL (default 30s), CDP_RESOLVER_THREADS (threads
resolving a batch's accounts in parallel; default: the CPUs it may use), CDP_RESOLVER_PROFILE_STORAGE
(compact, the default: profiles kept encoded, about 40% of the memory; decoded: faster),
CDP_KAFKA_* (librdkafka settings: CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol).
"""

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
var reader = ConfigReader(arguments: arguments)
let common = DaemonConfig.read(from: &reader, defaultHTTPAddress: ":8081", instanceDefault: "\(ProcessInfo.processInfo.hostName)-\(getpid())")
var settings = ResolverSettings()
settings.readShared(from: &reader, common: common, groupEnv: "CDP_RESOLVER_GROUP", defaultGroup: "cdp-resolver")
settings.threads = reader.int(env: "CDP_RESOLVER_THREADS", flag: "--threads", default: settings.threads, range: 1...64)
settings.profileStorage = reader.choice(env: "CDP_RESOLVER_PROFILE_STORAGE", flag: "--profile-storage", default: settings.profileStorage)
do {
    try reader.finish()
} catch {
    exitWithConfigError(error, program: "cdp-resolver")
}
await runDaemon(label: "resolver", common: common) { client, logger, metrics in
    try ResolverApp(client: client, settings: settings, logger: logger, metrics: metrics)
}
