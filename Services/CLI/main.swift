import Foundation
import Model
import QL
import Runtime

let commands: [(name: String, summary: String, usage: String)] = [
    ("produce", "write lines from a file or stdin to a topic", ProduceCommand.usage),
    ("consume", "print records of a topic as JSON lines", ConsumeCommand.usage),
    ("topics", "list topics, or create the pipeline topics on Kafka", TopicsCommand.usage),
    ("events", "send events from a JSON, NDJSON or CSV file through the collect API", EventsCommand.usage),
    ("account", "create, list and show accounts", AccountCommand.usage),
    ("apikey", "create, list and revoke API keys", APIKeyCommand.usage),
    ("ql", "check and evaluate FilterQL / LQL / expressions", QLCommand.usage),
    ("schema", "show, save or dry-run an account's schema", SchemaCommand.usage),
    ("resolve", "run identity resolution offline on NDJSON events", ResolveCommand.usage),
    ("profile", "look up a profile by any identity value, or request its deletion", ProfileCommand.usage),
    ("segment", "create, list, size and preview audiences", SegmentCommand.usage),
    ("version", "print versions", "usage: cdp version"),
]

func mainUsage() -> String {
    var text = "usage: cdp COMMAND [ARGS]\n\nCommands:\n"
    for c in commands { text += "  \(c.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(c.summary)\n" }
    text += "\nSettings: CDP_BROKERS (--brokers, default 127.0.0.1:9092), CDP_TOPIC_PREFIX (--topic-prefix),\n"
    text += "CDP_URL (--url, the collector, default http://127.0.0.1:8080), CDP_TOKEN (--token, an API key),\n"
    text += "CDP_KAFKA_* (librdkafka settings: CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol).\n"
    text += "Run 'cdp COMMAND --help' for a command's options."
    return text
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first, !command.hasPrefix("-") || command == "--help" || command == "-h" else {
    CLIContext.eprint(mainUsage())
    exit(ExitCode.usage)
}
arguments.removeFirst()
if command == "--help" || command == "-h" || command == "help" {
    print(mainUsage())
    exit(0)
}
guard let entry = commands.first(where: { $0.name == command }) else {
    CLIContext.eprint("cdp: unknown command '\(command)'\n\n" + mainUsage())
    exit(ExitCode.usage)
}
if arguments.contains("--help") || arguments.contains("-h") {
    print(entry.usage)
    exit(0)
}

func runCommand(_ command: String, _ arguments: [String], usage: String) async -> Int32 {
    var context = CLIContext(arguments: arguments, environment: ProcessInfo.processInfo.environment)
    do {
        switch command {
        case "produce": try await ProduceCommand.run(&context)
        case "consume": try await ConsumeCommand.run(&context)
        case "topics": try await TopicsCommand.run(&context)
        case "events": try await EventsCommand.run(&context)
        case "account": try await AccountCommand.run(&context)
        case "apikey": try await APIKeyCommand.run(&context)
        case "ql": try await QLCommand.run(&context)
        case "schema": try await SchemaCommand.run(&context)
        case "resolve": try await ResolveCommand.run(&context)
        case "profile": try await ProfileCommand.run(&context)
        case "segment": try await SegmentCommand.run(&context)
        case "version":
            try context.finish()
            print("cdp \(CDPVersion.current) (QL \(QL.languageVersion))")
        default: break
        }
        return 0
    } catch let error as UsageError {
        CLIContext.eprint("cdp \(command): \(error.message)\n\n\(usage)")
        return ExitCode.usage
    } catch let error as CommandFailure {
        CLIContext.eprint("cdp \(command): \(error.message)")
        return error.code
    } catch {
        CLIContext.eprint("cdp \(command): \(error)")
        return 1
    }
}

exit(await runCommand(command, arguments, usage: entry.usage))
