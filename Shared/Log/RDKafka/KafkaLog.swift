import CRdKafka
import Runtime

/// Clients for a Kafka cluster (or `cdp-devbroker`) at `brokers` (`host:port[,host:port...]`).
/// `settings` (the operator's `CDP_KAFKA_*`) go to every client, after cdp's own.
public struct KafkaLog: LogClient {
    public let brokers: String
    public let settings: [String: String]
    public let logger: Logger

    public init(brokers: String, settings: [String: String] = [:], logger: Logger) {
        self.brokers = brokers
        self.settings = settings
        self.logger = logger
    }

    /// Checks that librdkafka takes every setting (names and values), so that a mistake stops a
    /// daemon at start with the property named, not at its first client.
    public func checkSettings() throws(LogError) {
        var config = RDKafkaConfig()
        config.merge(settings)
        rd_kafka_conf_destroy(try config.make())
    }

    public func makeProducer(_ options: ProducerOptions) throws(LogError) -> any LogProducer {
        var options = options
        options.extra.merge(settings) { _, theirs in theirs }
        return try KafkaProducer(brokers: brokers, options: options, logger: logger)
    }

    public func makeConsumer(_ options: ConsumerOptions) throws(LogError) -> any LogConsumer {
        var options = options
        options.extra.merge(settings) { _, theirs in theirs }
        return try KafkaConsumer(brokers: brokers, options: options, logger: logger)
    }

    public func makeAdmin() throws(LogError) -> any LogAdmin {
        try KafkaAdmin(brokers: brokers, logger: logger, extra: settings)
    }
}
