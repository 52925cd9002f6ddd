import Foundation
import HTTP
import Log
import Runtime

/// What a daemon's main runs: its services and its HTTP routes.
public protocol DaemonApp: Sendable {
    var services: [any Service] { get }
    var router: Router { get }
}

/// The common end of every daemon's main: the logger, metrics and Kafka client, the app, its HTTP
/// server, all run until SIGTERM/SIGINT (then stopped in reverse order). Exits 78 when the app
/// cannot be made, 1 when a service fails.
public func runDaemon(label: String, common: DaemonConfig, httpOptions: HTTPServerOptions = HTTPServerOptions(),
                      make: (any LogClient, Logger, MetricsRegistry) throws -> any DaemonApp) async -> Never {
    let logger = Logger(label: label, level: common.logLevel).with(["instance": common.instanceID])
    let metrics = MetricsRegistry()
    let app: any DaemonApp
    do {
        let kafka = KafkaLog(brokers: common.brokers, settings: common.kafkaSettings, logger: logger.with(["component": "kafka"]))
        try kafka.checkSettings()
        app = try make(kafka, logger, metrics)
    } catch {
        logger.error("cannot start", ["error": "\(error)"])
        exit(ExitCode.config)
    }
    let server = HTTPServer(address: common.httpAddress, router: app.router, options: httpOptions,
                            logger: logger.with(["component": "http"]), metrics: metrics)
    logger.info("starting", ["brokers": common.brokers, "http": common.httpAddress.description,
                             "kafka_settings": common.kafkaSettings.sorted { $0.key < $1.key }.map { KafkaSettings.describe($0.key, $0.value) }.joined(separator: ",")])
    do {
        try await ServiceGroup(services: app.services + [server], logger: logger).run()
    } catch {
        logger.error("stopped with an error", ["error": "\(error)"])
        exit(1)
    }
    exit(0)
}
