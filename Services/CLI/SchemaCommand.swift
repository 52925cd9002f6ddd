import Foundation
import Runtime

/// `cdp schema get|history|version|put`: the collector's schema API.
enum SchemaCommand {
    static let usage = """
    usage: cdp schema get [--aid ACCOUNT]
           cdp schema history [--aid ACCOUNT]
           cdp schema version N [--aid ACCOUNT]
           cdp schema put FILE [--dryrun [--events FILE]] [--aid ACCOUNT]
    put saves FILE (a schema document: identity_keys, fields, max_identifiers, mappings) as the
    account's new schema version; with --dryrun nothing is saved and the profiles the NDJSON
    events of --events would produce are printed instead (try the rules offline with cdp resolve).
    Uses CDP_URL (--url, default http://127.0.0.1:8080) and CDP_TOKEN (--token).
    """

    static func run(_ context: inout CLIContext) async throws {
        let api = APIClient(&context)
        let aid = context.reader.optionalString(flag: "--aid")
        let dryRun = context.reader.bool(flag: "--dryrun", default: false)
        let eventsPath = context.reader.optionalString(flag: "--events")
        try context.finish()
        let args = context.reader.positional
        var query: [String] = []
        if let aid { query.append("aid=\(aid.urlQueryValue)") }
        func path(_ p: String, _ extra: [String] = []) -> String {
            let q = query + extra
            return p + (q.isEmpty ? "" : "?" + q.joined(separator: "&"))
        }
        switch (args.first, args.count) {
        case ("get", 1): try await api.printData("GET", path("/api/schema"))
        case ("history", 1): try await api.printData("GET", path("/api/schema/history"))
        case ("version", 2):
            guard Int(args[1]) != nil else { throw UsageError(message: "version needs a number, not '\(args[1])'") }
            try await api.printData("GET", path("/api/schema/\(args[1])"))
        case ("put", 2):
            if eventsPath != nil && !dryRun { throw UsageError(message: "--events goes with --dryrun") }
            guard case .object(var document) = try readJSON(args[1]) else {
                throw CommandFailure(message: "\(args[1]): a schema document is a JSON object", code: 65)
            }
            if let eventsPath { document["events"] = .array(try readNDJSON(eventsPath)) }
            try await api.printData("PUT", path("/api/schema", dryRun ? ["dryrun=true"] : []), body: .object(document))
        default: throw UsageError(message: "expected get, history, version N, or put FILE")
        }
    }

    static func readJSON(_ file: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure(message: "cannot read \(file)", code: 66) }
        do {
            return try JSONParser().parse(Array(data))
        } catch {
            throw CommandFailure(message: "\(file): \(error)", code: 65)
        }
    }

    /// One JSON value per non-empty line.
    static func readNDJSON(_ file: String) throws -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure(message: "cannot read \(file)", code: 66) }
        var out: [JSONValue] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                out.append(try JSONParser().parse(String(line)))
            } catch {
                throw CommandFailure(message: "\(file) line \(i + 1): \(error)", code: 65)
            }
        }
        return out
    }
}
