import Foundation
import Model
import Runtime

/// `cdp events send STREAM FILE`: sends JSON, NDJSON or CSV through the collect API in batches,
/// with a progress line, retrying batches the collector answers 503 (honouring Retry-After).
enum EventsCommand {
    static let usage = """
    usage: cdp events send STREAM FILE|- [--format json|ndjson|csv] [--batch N] [--parallel N] [--aid ACCOUNT]

    FILE holds one JSON object, a JSON array, NDJSON, or CSV with a header row (format from the
    extension, else detected). Events go in batches (default 500) to POST /collect/json/STREAM;
    batches answered 503 are retried. Uses CDP_URL and CDP_TOKEN. Exit 1 if any event was rejected.
    """

    static func run(_ context: inout CLIContext) async throws {
        let api = APIClient(&context)
        let format = context.reader.optionalString(flag: "--format")
        let batchSize = context.reader.int(flag: "--batch", default: 500, range: 1...10_000)
        let parallel = context.reader.int(flag: "--parallel", default: 4, range: 1...32)
        let aid = context.reader.optionalString(flag: "--aid")
        try context.finish()
        let args = context.reader.positional
        guard args.count == 3, args[0] == "send" else { throw UsageError(message: "expected: send STREAM FILE") }
        let stream = args[1]
        if let problem = Identifier.userStreamProblem(stream) { throw UsageError(message: problem) }
        let path = args[2]
        guard let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path) else {
            throw CommandFailure(message: "cannot open \(path)", code: 66)
        }
        let kind = format ?? (path.hasSuffix(".csv") ? "csv" : path.hasSuffix(".json") ? "json" : "auto")
        guard ["json", "ndjson", "csv", "auto"].contains(kind) else { throw UsageError(message: "--format must be json, ndjson or csv") }

        let target = "/collect/json/\(stream)" + (aid.map { "?aid=\($0)" } ?? "")
        var source = EventSource(handle: handle, kind: kind)
        var accepted = 0
        var rejected = 0
        var examples: [String] = []
        var sentLines = 0
        var lastReport = ContinuousClock.now
        let started = ContinuousClock.now
        while true {
            // Up to `parallel` batches in flight at once.
            var batches: [[String]] = []
            for _ in 0..<parallel {
                let batch = try source.next(batchSize)
                if batch.isEmpty { break }
                batches.append(batch)
            }
            if batches.isEmpty { break }
            let results = try await withThrowingTaskGroup(of: (Int, Int, [String]).self) { group in
                for batch in batches {
                    group.addTask { try await send(batch, to: target, api: api) }
                }
                var out: [(Int, Int, [String])] = []
                for try await r in group { out.append(r) }
                return out
            }
            for (a, r, e) in results {
                accepted += a
                rejected += r
                if examples.count < 5 { examples += e.prefix(5 - examples.count) }
            }
            sentLines += batches.reduce(0) { $0 + $1.count }
            if ContinuousClock.now - lastReport > .seconds(1) {
                lastReport = ContinuousClock.now
                CLIContext.progress("sent \(sentLines) events (\(accepted) accepted, \(rejected) rejected)")
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        CLIContext.eprint("\rsent \(sentLines) events to \(stream): \(accepted) accepted, \(rejected) rejected in \(String(format: "%.1f", seconds)) s")
        for e in examples { CLIContext.eprint("  rejected: \(e)") }
        if rejected > 0 { throw CommandFailure(message: "\(rejected) events were rejected") }
    }

    /// Posts one batch as NDJSON; retries 503s up to 10 times.
    static func send(_ lines: [String], to target: String, api: APIClient) async throws -> (Int, Int, [String]) {
        let body = Array((lines.joined(separator: "\n") + "\n").utf8)
        for attempt in 0..<10 {
            let r = try await api.call("POST", target, body: body, contentType: "application/x-ndjson")
            if r.status == 503 {
                try await Task.sleep(for: .seconds(r.retryAfter ?? (1 << min(attempt, 4))))
                continue
            }
            if r.status == 401 || r.status == 403 || r.status == 404 {
                throw CommandFailure(message: "HTTP \(r.status): \(r.json["message"]?.stringValue ?? "")", code: 77)
            }
            let data = r.json["data"]
            let errors = (data?["errors"]?.arrayValue ?? []).map { "item \($0["index"]?.intValue ?? -1): \($0["reason"]?.stringValue ?? "")" }
            if r.status == 200 || (r.status == 400 && data != nil) {
                return (Int(data?["accepted"]?.intValue ?? 0), Int(data?["rejected"]?.intValue ?? 0), errors)
            }
            throw CommandFailure(message: "HTTP \(r.status): \(r.json["message"]?.stringValue ?? "")")
        }
        throw CommandFailure(message: "the collector kept answering 503; giving up", code: 69)
    }
}

/// Reads events from a file as NDJSON lines: JSON arrays are split, CSV rows become objects
/// keyed by the header row (all values strings).
struct EventSource {
    let handle: FileHandle
    var kind: String
    private var lines = LineSplitter.Buffered()
    private var csv = CSVParser()
    private var header: [String]?
    private var pending: [String] = []
    private var done = false

    init(handle: FileHandle, kind: String) {
        self.handle = handle
        self.kind = kind
    }

    mutating func next(_ count: Int) throws -> [String] {
        while pending.count < count, !done { try fill() }
        let out = Array(pending.prefix(count))
        pending.removeFirst(out.count)
        return out
    }

    private mutating func fill() throws {
        let chunk = handle.readData(ofLength: 1 << 20)
        if kind == "auto" {
            let first = chunk.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
            kind = first == UInt8(ascii: "[") ? "json" : first == UInt8(ascii: "{") ? "ndjson" : "csv"
        }
        switch kind {
        case "json":
            // A JSON document is read whole (bounded), then split into items.
            var all = Array(chunk)
            while true {
                let more = handle.readData(ofLength: 1 << 20)
                if more.isEmpty { break }
                all += more
                if all.count > 512 << 20 { throw CommandFailure(message: "JSON file larger than 512 MiB: use NDJSON", code: 65) }
            }
            let value: JSONValue
            do { value = try JSONParser().parse(all) } catch {
                throw CommandFailure(message: "malformed JSON: \(error)", code: 65)
            }
            pending += (value.arrayValue ?? [value]).map { $0.serialized() }
            done = true
        case "ndjson":
            if chunk.isEmpty {
                pending += lines.finish()
                done = true
            } else {
                pending += lines.feed(Array(chunk))
            }
        default:
            var rows: [CSVParser.Row]
            do {
                rows = chunk.isEmpty ? try csv.finish() : try csv.feed(chunk)
            } catch {
                throw CommandFailure(message: "\(error)", code: 65)
            }
            if chunk.isEmpty { done = true }
            if header == nil, !rows.isEmpty { header = rows.removeFirst().fields }
            guard let header else { return }
            for row in rows {
                var o: [String: JSONValue] = [:]
                for (i, name) in header.enumerated() where i < row.fields.count && !row.fields[i].isEmpty {
                    o[name] = .string(row.fields[i])
                }
                pending.append(JSONValue.object(o).serialized())
            }
        }
    }
}

extension LineSplitter {
    /// Splits fed bytes into non-empty lines, keeping an incomplete last line for the next feed.
    struct Buffered {
        private var carry: [UInt8] = []

        mutating func feed(_ bytes: [UInt8]) -> [String] {
            carry += bytes
            guard let last = carry.lastIndex(of: 0x0A) else { return [] }
            let complete = carry[..<last]
            carry = Array(carry[(last + 1)...])
            return complete.split(separator: 0x0A).map { String(decoding: LineSplitter.trimCR($0), as: UTF8.self) }.filter { !$0.allSatisfy(\.isWhitespace) }
        }

        mutating func finish() -> [String] {
            defer { carry = [] }
            let line = String(decoding: LineSplitter.trimCR(carry[...]), as: UTF8.self)
            return line.allSatisfy(\.isWhitespace) ? [] : [line]
        }
    }
}
