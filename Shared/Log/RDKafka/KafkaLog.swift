import Runtime

/// Clients for a Kafka cluster (or `cdp-devbroker`) at `brokers` (`host:port[,host:port...]`).
public struct KafkaLog: LogClient {
    public let brokers: String
    public let logger: Logger

    public init(brokers: String, logger: Logger) {
        self.brokers = brokers
        self.logger = logger
    }

    public func makeProducer(_ options: ProducerOptions) throws(LogError) -> any LogProducer {
        try KafkaProducer(brokers: brokers, options: options, logger: logger)
    }

    public func makeConsumer(_ options: ConsumerOptions) throws(LogError) -> any LogConsumer {
        try KafkaConsumer(brokers: brokers, options: options, logger: logger)
    }

    public func makeAdmin() throws(LogError) -> any LogAdmin {
        try KafkaAdmin(brokers: brokers, logger: logger)
    }
}
