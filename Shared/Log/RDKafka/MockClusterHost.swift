import CRdKafka
import Runtime

/// Hosts librdkafka's mock cluster: an in-memory Kafka-protocol broker on 127.0.0.1 (random
/// ports) that other processes reach over TCP while this object lives.
public final class MockClusterHost: @unchecked Sendable {
    // The handles are only used from the owning thread's calls below and destroyed in deinit.
    private let client: OpaquePointer
    private let cluster: OpaquePointer
    private let context: RDKafkaContext
    public let bootstrapServers: String
    public let brokerCount: Int

    public init(brokers: Int, logger: Logger) throws(LogError) {
        precondition(brokers >= 1)
        var config = RDKafkaConfig()
        config["client.id"] = "cdp-devbroker-host"
        // The host client itself never connects anywhere.
        config["bootstrap.servers"] = ""
        context = RDKafkaContext(logger: logger)
        let conf = try config.make()
        context.install(on: conf, deliveries: false, rebalance: false)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw LogError.configuration(RDKafkaError.string(errstr))
        }
        _ = Unmanaged.passRetained(context)
        guard let mc = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            Unmanaged.passUnretained(context).release()
            throw LogError.fatal("could not start the mock cluster")
        }
        client = rk
        cluster = mc
        brokerCount = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(client)
        Unmanaged.passUnretained(context).release()
    }

    /// Creates a topic (replication factor 1). Creating an existing topic fails with a request error.
    public func createTopic(_ name: String, partitions: Int) throws(LogError) {
        let err = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), 1)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw RDKafkaError.request(err, "create topic \(name)") }
    }

    /// Takes a broker down (connections refused) or brings it back (fault tests).
    public func setBroker(_ id: Int32, up: Bool) {
        if up { rd_kafka_mock_broker_set_up(cluster, id) } else { rd_kafka_mock_broker_set_down(cluster, id) }
    }
}
