import Model
import Runtime

/// `cdp-devbroker` settings (flags override the environment).
struct DevBrokerConfig {
    var brokers = 1
    var partitions = 4
    var addressFile: String?
    var port: Int?
    var topics = PipelineTopics()
    var logLevel = LogLevel.info
    var httpAddress: ListenAddress?

    static let usage = """
    usage: cdp-devbroker [--brokers N] [--partitions N] [--port P] [--address-file PATH]
                         [--topic-prefix PREFIX] [--http-addr HOST:PORT] [--log-level LEVEL]

    An in-memory Kafka-protocol broker (librdkafka's mock cluster) for local runs and tests.
    Creates the pipeline topics, prints its bootstrap address on stdout, writes it to
    --address-file, and serves until SIGTERM or SIGINT. With --port P it also accepts clients on
    127.0.0.1:P, so CDP_BROKERS=127.0.0.1:P works. Everything is lost when it stops, and each
    partition keeps at most 5 MiB of record batches (a warning is logged when old records drop).

      --brokers N          brokers in the cluster (1-8, default 1)
      --partitions N       partitions per pipeline topic (1-64, default 4; cdp.config has 1)
      --port P             also listen on 127.0.0.1:P and forward to the first broker
      --address-file PATH  write the bootstrap address to PATH (atomically)
      --topic-prefix P     topic name prefix (CDP_TOPIC_PREFIX, default "cdp.")
      --http-addr A        serve /healthz, /readyz and /metrics (per-partition watermarks and
                           dropped records) on HOST:PORT (CDP_HTTP_ADDR; default: no HTTP)
      --log-level L        debug, info, warning or error (CDP_LOG_LEVEL, default info)
    """

    static func load(arguments: [String], environment: [String: String]) throws -> DevBrokerConfig {
        var reader = ConfigReader(environment: environment, arguments: arguments)
        var config = DevBrokerConfig()
        config.brokers = reader.int(env: "CDP_DEVBROKER_BROKERS", flag: "--brokers", default: 1, range: 1...8)
        config.partitions = reader.int(env: "CDP_DEVBROKER_PARTITIONS", flag: "--partitions", default: 4, range: 1...64)
        config.addressFile = reader.optionalString(env: "CDP_DEVBROKER_ADDRESS_FILE", flag: "--address-file")
        let port = reader.int(env: "CDP_DEVBROKER_PORT", flag: "--port", default: 0, range: 0...65535)
        config.port = port == 0 ? nil : port
        let prefix = reader.string(env: "CDP_TOPIC_PREFIX", flag: "--topic-prefix", default: PipelineTopics.defaultPrefix)
        if !PipelineTopics.isValidPrefix(prefix) {
            reader.problem("topic prefix '\(prefix)': only letters, digits, '.', '_' and '-' (at most 200)")
        }
        config.topics = PipelineTopics(prefix: prefix)
        config.logLevel = reader.logLevel()
        if let text = reader.optionalString(env: "CDP_HTTP_ADDR", flag: "--http-addr") {
            if let address = ListenAddress(text) {
                config.httpAddress = address
            } else {
                reader.problem("--http-addr=\(text): expected HOST:PORT or :PORT")
            }
        }
        if !reader.positional.isEmpty { reader.problem("unexpected argument \(reader.positional[0])") }
        try reader.finish()
        return config
    }
}
