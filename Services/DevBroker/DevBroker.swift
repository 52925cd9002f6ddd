import Foundation
import HTTP
import Log
import Model
import Runtime

/// Hosts the mock cluster, creates the pipeline topics, publishes the bootstrap address and
/// serves until cancelled.
final class DevBroker: Service {
    let name = "devbroker"
    let config: DevBrokerConfig
    let logger: Logger

    init(config: DevBrokerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    func run() async throws {
        let host = try MockClusterHost(brokers: config.brokers, logger: logger.with(["component": "mock"]))
        for spec in config.topics.specs(partitions: config.partitions) {
            try host.createTopic(spec.name, partitions: spec.partitions)
        }
        var forwarder: PortForwarder?
        var advertised = host.bootstrapServers
        if let port = config.port {
            let first = host.bootstrapServers.split(separator: ",")[0]
            guard let target = ListenAddress(String(first)) else {
                throw LogError.fatal("unexpected bootstrap address \(host.bootstrapServers)")
            }
            let f = try PortForwarder(listenPort: port, target: target, logger: logger.with(["component": "forwarder"]))
            f.start()
            forwarder = f
            advertised = "127.0.0.1:\(port)"
        }
        if let path = config.addressFile {
            try Self.writeAtomically(advertised + "\n", to: path)
        }
        logger.info("dev broker ready", [
            "bootstrap": advertised, "brokers": String(config.brokers), "partitions": String(config.partitions),
            "topics": config.topics.specs(partitions: config.partitions).map(\.name).joined(separator: ","),
        ])
        // The one line on stdout: scripts read the bootstrap address from here.
        FileHandle.standardOutput.write(Data((advertised + "\n").utf8))

        let metrics = MetricsRegistry()
        var http: HTTPServer?
        if let address = config.httpAddress {
            var router = Router()
            router.mountOperations(service: "cdp-devbroker", metrics: metrics) { .ready }
            let server = HTTPServer(address: address, router: router, logger: logger.with(["component": "http"]), metrics: metrics)
            try server.start()
            http = server
        }
        let monitor = RetentionMonitor(brokers: host.bootstrapServers, logger: logger.with(["component": "retention"]), metrics: metrics)
        let monitorTask = Task { await monitor.run() }
        await waitForCancellation()
        monitorTask.cancel()
        await monitorTask.value
        forwarder?.stop()
        await http?.drain()
        if let path = config.addressFile { try? FileManager.default.removeItem(atPath: path) }
        logger.info("dev broker stopped; its records are gone")
        withExtendedLifetime(host) {}
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        let temp = path + ".tmp-\(getpid())"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
        guard rename(temp, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
