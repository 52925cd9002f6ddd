import Foundation
import Model
import QL
import IdentityCore
import Runtime

/// `cdp resolve --schema FILE [--events FILE]`: the resolver's pure core, offline.
enum ResolveCommand {
    static let usage = """
    usage: cdp resolve [--schema FILE] [--events FILE|-] [--account ID] [--changes]

    Runs the identity rules and mappings offline on NDJSON events (records as on cdp.events, or
    plain objects with "stream" (default "web"), "ts", "data") and prints the resulting profiles
    as NDJSON, then a summary on stderr; lines that are not events are reported with the reason.
    Without --schema the default web schema applies. With --changes it prints, after each event,
    the records the resolver would publish on cdp.profiles (changed profiles and the deleted
    records of merged ones) instead of the final profiles.
    """

    static func run(_ context: inout CLIContext) async throws {
        let schemaPath = context.reader.optionalString(flag: "--schema")
        let eventsPath = context.reader.string(flag: "--events", default: "-")
        let account = context.reader.string(flag: "--account", default: "default")
        let changes = context.reader.bool(flag: "--changes", default: false)
        try context.finish()
        var schema = AccountSchema.defaultSchema()
        if let schemaPath {
            guard let data = FileManager.default.contents(atPath: schemaPath) else { throw CommandFailure(message: "cannot read \(schemaPath)", code: 66) }
            let problem: String?
            do {
                let document = try JSONParser().parse(Array(data))
                if case .object(let o) = document, let stray = AccountSchema.strictProblem(o) {
                    problem = stray
                } else {
                    schema = try AccountSchema.parse(document)
                    problem = nil
                }
            } catch {
                problem = "\(error)"
            }
            if let problem { throw CommandFailure(message: "\(schemaPath): \(problem)", code: 65) }
        }
        guard let input = eventsPath == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: eventsPath) else {
            throw CommandFailure(message: "cannot open \(eventsPath)", code: 66)
        }
        var graph = IdentityGraph(account: account, schema: schema.identity)
        var lines = LineSplitter.Buffered()
        var lineNumber = 0, applied = 0, rejected = 0, filtered = 0, duplicates = 0
        var out: [UInt8] = []
        let scratch = EventMapper.Scratch()
        let output = FileHandle.standardOutput
        func handle(_ line: String) {
            lineNumber += 1
            let value: JSONValue
            do throws(JSONParseError) {
                value = try JSONParser().parse(line)
            } catch {
                rejected += 1
                CLIContext.eprint("line \(lineNumber): invalid JSON: \(error)")
                return
            }
            guard case .object(var o) = value else {
                rejected += 1
                CLIContext.eprint("line \(lineNumber): not a JSON object")
                return
            }
            if o["aid"] == nil { o["aid"] = .string(account) }
            if o["stream"] == nil { o["stream"] = "web" }
            let event: EventRecord
            do {
                event = try EventRecord.parse(object: o, fallbackID: "line-\(lineNumber)", fallbackTimestampMs: 0)
            } catch {
                rejected += 1
                CLIContext.eprint("line \(lineNumber): not an event: \(error)")
                return
            }
            switch EventMapper.map(event, schema: schema, scratch: scratch) {
            case .failure(.filtered): filtered += 1
            case .failure(let e):
                rejected += 1
                CLIContext.eprint("line \(lineNumber): \(e)")
            case .success(let mapped):
                let resolution = graph.apply(mapped)
                switch resolution.outcome {
                case .duplicate: duplicates += 1
                case .applied: applied += 1
                case .noIdentifier: break
                }
                guard changes else { return }
                ProfileRecords.changes(resolution, profile: graph.changedProfile(resolution), account: account) { _, writeValue in
                    writeValue(&out)
                    out.append(0x0A)
                }
            }
        }
        while true {
            let chunk = input.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            for line in lines.feed(Array(chunk)) { handle(line) }
            if out.count > 1 << 20 {
                output.write(Data(out))
                out.removeAll(keepingCapacity: true)
            }
        }
        for line in lines.finish() { handle(line) }
        if !changes {
            for profile in graph.profiles.values.sorted(by: { $0.id < $1.id }) {
                out += profile.jsonBytes(account: account)
                out.append(0x0A)
            }
        }
        output.write(Data(out))
        CLIContext.eprint("\(lineNumber) events: \(applied) applied, \(duplicates) duplicates, \(filtered) dropped by WHERE, \(graph.eventsWithoutIdentity) without identity, \(rejected) rejected; \(graph.profiles.count) profiles")
    }
}
