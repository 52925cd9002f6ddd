import Foundation
@testable import Log
import Runtime
import TestSupport
import Testing

/// The operator's librdkafka settings (`CDP_KAFKA_*`) on `KafkaLog`.
struct KafkaSettingsLogTests {
    static let logger = Logger(label: "test", level: .error)

    @Test func checkSettings_acceptsRealProperties_andNamesWrongOnes() throws {
        try KafkaLog(brokers: "127.0.0.1:1", settings: ["socket.keepalive.enable": "true", "log_level": "3"], logger: Self.logger).checkSettings()
        for (settings, named) in [(["no.such.property": "1"], "no.such.property=1"), (["socket.keepalive.enable": "maybe"], "socket.keepalive.enable=maybe")] {
            #expect {
                try KafkaLog(brokers: "127.0.0.1:1", settings: settings, logger: Self.logger).checkSettings()
            } throws: { error in
                guard case LogError.configuration(let message) = error else { return false }
                return message.contains(named)
            }
        }
    }

    @Test func checkSettings_neverPrintsASecretValue() {
        #expect {
            try KafkaLog(brokers: "127.0.0.1:1", settings: ["sasl.passwordz": "hunter2"], logger: Self.logger).checkSettings()
        } throws: { error in
            "\(error)".contains("sasl.passwordz=(hidden)") && !"\(error)".contains("hunter2")
        }
    }

    /// The settings reach the clients: with `message.max.bytes` lowered, the producer refuses a
    /// record above it, which it sends without the setting.
    @Test func settings_reachEveryClient() async throws {
        let broker = try await DevBrokerProcess.start(arguments: ["--partitions", "1"])
        let big = ProducerRecord(topic: "settings.t", key: Array("k".utf8), value: [UInt8](repeating: 0x61, count: 5000))
        let plain = try KafkaLog(brokers: broker.bootstrap, logger: Self.logger).makeProducer(ProducerOptions(clientID: "t", lingerMs: 1))
        _ = try await plain.send(big)
        let limited = try KafkaLog(brokers: broker.bootstrap, settings: ["message.max.bytes": "1000"], logger: Self.logger)
            .makeProducer(ProducerOptions(clientID: "t", lingerMs: 1))
        await #expect(throws: LogError.self) { _ = try await limited.send(big) }
        let consumer = KafkaLog(brokers: broker.bootstrap, settings: ["fetch.max.bytes": "not-a-number"], logger: Self.logger)
        #expect(throws: LogError.self) { _ = try consumer.makeConsumer(ConsumerOptions(groupID: nil)) }
        #expect(await broker.stop() == 0)
    }
}

/// One set of operator settings reaches producers and consumers alike: librdkafka's note that a
/// property does not apply to a client kind is expected, not a warning.
struct ScopeWarningTests {
    @Test(arguments: [
        ("CONFWARN", "Configuration property fetch.wait.max.ms is a consumer property and will be ignored by this producer instance", true),
        ("CONFWARN", "Configuration property linger.ms is a producer property and will be ignored by this consumer instance", true),
        ("CONFWARN", "Configuration property ssl.ca.location is not supported in this build", false),
        ("FAIL", "is a consumer property and will be ignored by this producer instance", false),
    ])
    func onlyScopeNotesAreExpected(facility: String, text: String, expected: Bool) {
        #expect(RDKafkaContext.isExpectedScopeWarning(facility: facility, text) == expected)
    }
}
