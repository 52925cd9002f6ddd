import Foundation

/// The settings every daemon shares (see the configuration table in the README), read from
/// `CDP_*` variables and flags and validated once at start.
public struct DaemonConfig: Sendable, Equatable {
    /// Kafka bootstrap servers (`CDP_BROKERS`, `--brokers`).
    public var brokers: String
    /// Prefix of every pipeline topic (`CDP_TOPIC_PREFIX`, `--topic-prefix`).
    public var topicPrefix: String
    /// Where the daemon's HTTP server listens (`CDP_HTTP_ADDR`, `--http-addr`).
    public var httpAddress: ListenAddress
    /// The operator's bootstrap admin key (`CDP_ADMIN_TOKEN`, `--admin-token`); nil if unset.
    public var adminToken: String?
    /// Folder for local snapshots (`CDP_DATA_DIR`, `--data-dir`); nil if unset.
    public var dataDirectory: String?
    public var logLevel: LogLevel
    /// Identifies this replica to Kafka (`CDP_INSTANCE_ID`, default: host name and process id).
    public var instanceID: String
    /// librdkafka settings for every Kafka client (`CDP_KAFKA_*`, see `KafkaSettings`).
    public var kafkaSettings: [String: String]

    public init(brokers: String, topicPrefix: String, httpAddress: ListenAddress, adminToken: String?,
                dataDirectory: String?, logLevel: LogLevel, instanceID: String, kafkaSettings: [String: String] = [:]) {
        self.brokers = brokers
        self.topicPrefix = topicPrefix
        self.httpAddress = httpAddress
        self.adminToken = adminToken
        self.dataDirectory = dataDirectory
        self.logLevel = logLevel
        self.instanceID = instanceID
        self.kafkaSettings = kafkaSettings
    }

    /// Reads the shared settings; `defaultHTTPAddress` is the daemon's own default (`:8080`...).
    /// Daemon-specific settings are read from the same `reader` before `finish()`.
    public static func read(from reader: inout ConfigReader, defaultHTTPAddress: String, instanceDefault: String) -> DaemonConfig {
        let brokers = reader.string(env: "CDP_BROKERS", flag: "--brokers", default: "127.0.0.1:9092")
        if brokers.split(separator: ",").contains(where: { ListenAddress(String($0).trimmingCharacters(in: .whitespaces)) == nil }) {
            reader.problem("CDP_BROKERS=\(brokers): expected HOST:PORT[,HOST:PORT...]")
        }
        let prefix = reader.string(env: "CDP_TOPIC_PREFIX", flag: "--topic-prefix", default: "cdp.")
        if prefix.utf8.count > 200 || !prefix.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }) {
            reader.problem("CDP_TOPIC_PREFIX=\(prefix): only letters, digits, '.', '_' and '-' (at most 200)")
        }
        let http = reader.listenAddress(env: "CDP_HTTP_ADDR", flag: "--http-addr", default: defaultHTTPAddress)
        let token = reader.optionalString(env: "CDP_ADMIN_TOKEN", flag: "--admin-token")
        if let token, token.count < 16 {
            reader.problem("CDP_ADMIN_TOKEN: at least 16 characters")
        }
        let dataDir = reader.optionalString(env: "CDP_DATA_DIR", flag: "--data-dir")
        let level = reader.logLevel()
        let instance = reader.string(env: "CDP_INSTANCE_ID", flag: "--instance-id", default: instanceDefault)
        let kafka = reader.kafkaSettings()
        return DaemonConfig(brokers: brokers, topicPrefix: prefix, httpAddress: http, adminToken: token,
                            dataDirectory: dataDir, logLevel: level, instanceID: instance, kafkaSettings: kafka)
    }
}
