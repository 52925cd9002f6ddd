import Foundation
import Log
import Model
import Runtime

/// A usage mistake: the message is printed with the command's usage and the exit code is 64.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A failure while running a command (exit 1, or the given code).
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    var code: Int32 = 1
    var description: String { message }
}

/// What every subcommand shares: settings from `CDP_*` and flags, and output helpers.
struct CLIContext {
    var reader: ConfigReader
    let brokers: String
    /// librdkafka settings (`CDP_KAFKA_*`), as the daemons read them.
    let kafkaSettings: [String: String]
    let topics: PipelineTopics
    let logger: Logger

    init(arguments: [String], environment: [String: String]) {
        var reader = ConfigReader(environment: environment, arguments: arguments)
        brokers = reader.string(env: "CDP_BROKERS", flag: "--brokers", default: "127.0.0.1:9092")
        kafkaSettings = reader.kafkaSettings()
        let prefix = reader.string(env: "CDP_TOPIC_PREFIX", flag: "--topic-prefix", default: PipelineTopics.defaultPrefix)
        topics = PipelineTopics(prefix: prefix)
        // Client library noise stays quiet unless asked for.
        logger = Logger(label: "cdp", level: reader.logLevel(default: .warning))
        self.reader = reader
    }

    var log: KafkaLog { KafkaLog(brokers: brokers, settings: kafkaSettings, logger: logger) }

    /// Throws a usage error listing every bad flag.
    func finish() throws {
        do {
            try reader.finish()
        } catch let error as ConfigError {
            throw UsageError(message: error.problems.joined(separator: "; "))
        }
    }

    static func progress(_ line: String) {
        FileHandle.standardError.write(Data(("\r" + line).utf8))
    }

    static func eprint(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
