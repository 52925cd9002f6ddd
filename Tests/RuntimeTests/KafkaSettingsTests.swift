import Runtime
import Testing

struct KafkaSettingsTests {
    @Test(arguments: [
        ("CDP_KAFKA_SECURITY_PROTOCOL", "security.protocol"),
        ("CDP_KAFKA_SASL_USERNAME", "sasl.username"),
        ("CDP_KAFKA_SSL_CA_LOCATION", "ssl.ca.location"),
        ("CDP_KAFKA_LOG__LEVEL", "log_level"),
        ("CDP_KAFKA_SOCKET_KEEPALIVE_ENABLE", "socket.keepalive.enable"),
        ("CDP_KAFKA_X1", "x1"),
    ])
    func variableNames_mapToLibrdkafkaProperties(variable: String, property: String) {
        #expect(KafkaSettings.property(forVariable: variable) == property)
    }

    @Test(arguments: ["CDP_KAFKA_", "CDP_KAFKA__X", "CDP_KAFKA_X_", "CDP_KAFKA_A___B", "CDP_KAFKA_sasl_username", "CDP_KAFKA_A-B", "CDP_BROKERS", "KAFKA_X"])
    func otherNames_areNotProperties(variable: String) {
        #expect(KafkaSettings.property(forVariable: variable) == nil)
    }

    @Test func read_takesTheKafkaVariables_andNamesEveryProblem() {
        let (settings, problems) = KafkaSettings.read(from: [
            "CDP_BROKERS": "b:9092", "PATH": "/bin",
            "CDP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CDP_KAFKA_SASL_PASSWORD": "s3cret",
            "CDP_KAFKA_PARTITIONER": "random", "CDP_KAFKA_BOOTSTRAP_SERVERS": "x:1", "CDP_KAFKA_ENABLE_IDEMPOTENCE": "false",
            "CDP_KAFKA_bad": "1", "CDP_KAFKA_LINGER_MS": "",
        ])
        #expect(settings == ["security.protocol": "SASL_SSL", "sasl.password": "s3cret"])
        #expect(problems.count == 5)
        #expect(problems.contains { $0.hasPrefix("CDP_KAFKA_PARTITIONER: partitioner is set by cdp") && $0.contains("murmur2_random") })
        #expect(problems.contains { $0.hasPrefix("CDP_KAFKA_BOOTSTRAP_SERVERS:") && $0.contains("CDP_BROKERS") })
        #expect(problems.contains { $0.hasPrefix("CDP_KAFKA_ENABLE_IDEMPOTENCE:") })
        #expect(problems.contains { $0.hasPrefix("CDP_KAFKA_bad: expected") })
        #expect(problems.contains { $0.hasPrefix("CDP_KAFKA_LINGER_MS: empty value") })
        #expect(!problems.joined().contains("s3cret"))
    }

    @Test(arguments: [("sasl.password", true), ("ssl.key.password", true), ("sasl.oauthbearer.client.secret", true), ("ssl.key.pem", true),
                      ("sasl.oauthbearer.config", true), ("sasl.username", false), ("ssl.ca.location", false)])
    func secretValues_areHiddenInMessages(property: String, secret: Bool) {
        #expect(KafkaSettings.isSecret(property) == secret)
        #expect(KafkaSettings.describe(property, "v4lue").contains("v4lue") == !secret)
    }

    @Test func daemonConfig_readsThem_andReportsProblems() throws {
        var ok = ConfigReader(environment: ["CDP_KAFKA_SECURITY_PROTOCOL": "SSL"], arguments: [])
        let config = DaemonConfig.read(from: &ok, defaultHTTPAddress: ":8080", instanceDefault: "t")
        try ok.finish()
        #expect(config.kafkaSettings == ["security.protocol": "SSL"])
        var bad = ConfigReader(environment: ["CDP_KAFKA_GROUP_ID": "g"], arguments: [])
        _ = DaemonConfig.read(from: &bad, defaultHTTPAddress: ":8080", instanceDefault: "t")
        #expect(throws: ConfigError.self) { try bad.finish() }
        #expect(bad.problems.contains { $0.hasPrefix("CDP_KAFKA_GROUP_ID: group.id is set by cdp") })
    }
}
