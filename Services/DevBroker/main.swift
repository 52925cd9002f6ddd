import Foundation
import Runtime

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(DevBrokerConfig.usage)
    exit(0)
}
let config: DevBrokerConfig
do {
    config = try DevBrokerConfig.load(arguments: arguments, environment: ProcessInfo.processInfo.environment)
} catch {
    exitWithConfigError(error, program: "cdp-devbroker")
}
let logger = Logger(label: "devbroker", level: config.logLevel)
let group = ServiceGroup(services: [DevBroker(config: config, logger: logger)], logger: logger)
do {
    try await group.run()
} catch {
    logger.error("dev broker failed", ["error": "\(error)"])
    exit(1)
}
