import HTTP
import Pipeline
import Log
import Model
import Runtime

/// `POST /collect/bulk/{stream}`: large uploads (CSV with a header row, or NDJSON) for imports
/// from a warehouse or CRM. The body is streamed — never held whole — and written in batches of
/// `batchSize` events, each acknowledged by the broker before the next is read, so memory stays
/// bounded whatever the upload's size. Rows that are not acceptable events are reported with
/// their line numbers (the first 1,000; the rest are counted).
extension CollectorApp {
    static let bulkBatchSize = 1000
    static let bulkMaxReportedErrors = 1000

    func mountBulk(_ router: inout Router) {
        router.addStreaming("POST", "/collect/bulk/{stream}") { [self] request, body in
            await authorized(request, .collect) { principal in
                await bulk(request, body: body, principal: principal)
            }
        }
    }

    func bulk(_ request: HTTPRequest, body: HTTPBodyStream, principal: Principal) async -> HTTPResponse {
        let stream = request[parameter: "stream"] ?? ""
        if let problem = Identifier.userStreamProblem(stream) { return .error(400, problem) }
        let contentType = request.headers["content-type"]?.lowercased() ?? ""
        let format = request.query("format") ?? (contentType.hasPrefix("text/csv") ? "csv" : contentType.contains("ndjson") ? "ndjson" : nil)
        guard let format, format == "csv" || format == "ndjson" else {
            return .error(415, "send CSV (Content-Type: text/csv) or NDJSON (application/x-ndjson), or name it with ?format=csv|ndjson")
        }
        let options = EventBatch.Options(account: principal.account, stream: stream, timestampField: request.query("timestamp_field"),
                                         receivedMs: Timestamp.nowMs(), limits: settings.limits)
        var upload = BulkUpload(options: options, csv: format == "csv")
        var accepted = 0
        var rejected = 0
        var errors: [JSONValue] = []
        func report(_ batch: EventBatch) {
            rejected += batch.errors.count
            for e in batch.errors where errors.count < Self.bulkMaxReportedErrors {
                errors.append(["line": .int(Int64(e.line ?? 0)), "reason": .string(e.reason)])
            }
        }
        func summary(_ status: Int, _ message: String, extra: [String: JSONValue] = [:]) -> HTTPResponse {
            var data: [String: JSONValue] = ["accepted": .int(Int64(accepted)), "rejected": .int(Int64(rejected)),
                                             "errors": .array(errors), "errors_truncated": .bool(rejected > errors.count)]
            for (k, v) in extra { data[k] = v }
            collectMetrics.events(stream, accepted: 0, rejected: 0)
            return .json(status, message: message, data: .object(data), headers: status == 503 ? [("Retry-After", "5")] : [])
        }
        while true {
            let chunk: [UInt8]?
            do throws(HTTPParseError) {
                chunk = try await body.next()
            } catch {
                return summary(error.status, "upload ended early: \(error.message); \(accepted) events before it were written")
            }
            let batch: EventBatch
            do throws(BulkUpload.Failure) {
                if let chunk {
                    batch = try upload.feed(chunk)
                } else {
                    batch = try upload.finish()
                }
            } catch {
                return summary(400, "\(error.message); \(accepted) events before it were written", extra: ["line": .int(Int64(error.line))])
            }
            report(batch)
            if !batch.events.isEmpty {
                let written = await write(batch.encoded, account: principal.account)
                accepted += written.count
                if let failure = written.failure {
                    collectMetrics.events(stream, accepted: accepted, rejected: rejected)
                    return summary(503, "the broker stopped acknowledging (\(failure)); \(accepted) events were written — resume after line \(upload.lastLineWritten(accepted: written.count, of: batch))",
                                   extra: ["resume_after_line": .int(Int64(upload.lastLineWritten(accepted: written.count, of: batch)))])
                }
            }
            if chunk == nil { break }
        }
        collectMetrics.events(stream, accepted: accepted, rejected: rejected)
        return summary(200, "accepted \(accepted), rejected \(rejected)")
    }

    /// Writes events in order and waits for the acknowledgements; stops at the first failure.
    func write(_ events: [[UInt8]], account: String) async -> (count: Int, failure: String?) {
        if producer.unreachableForMs > settings.unavailableAfterMs { return (0, "broker unreachable") }
        let topic = settings.topics.events
        var done = 0
        for slice in stride(from: 0, to: events.count, by: Self.bulkBatchSize).map({ events[$0..<min($0 + Self.bulkBatchSize, events.count)] }) {
            let key = Array(account.utf8)
            let results = await producer.send(slice.map { ProducerRecord(topic: topic, key: key, value: $0) })
            if let index = results.firstIndex(where: { if case .failure = $0 { true } else { false } }), case .failure(let e) = results[index] {
                return (done + index, "\(e)")
            }
            done += slice.count
        }
        return (done, nil)
    }
}

/// Turns an upload's bytes into events, a bounded batch at a time.
struct BulkUpload {
    struct Failure: Error {
        let line: Int
        let message: String
    }

    let options: EventBatch.Options
    let isCSV: Bool
    private var csv = CSVParser()
    private var header: [String]?
    private var carry: [UInt8] = []
    private var line = 0
    /// Line numbers of the events in the batch being built, for resume hints.
    private(set) var eventLines: [Int] = []

    init(options: EventBatch.Options, csv: Bool) {
        self.options = options
        self.isCSV = csv
    }

    /// The line of the last event written when `accepted` of `batch` made it.
    func lastLineWritten(accepted: Int, of batch: EventBatch) -> Int {
        accepted > 0 && accepted <= eventLines.count ? eventLines[accepted - 1] : (eventLines.first.map { $0 - 1 } ?? 0)
    }

    mutating func feed(_ bytes: [UInt8]) throws(Failure) -> EventBatch {
        isCSV ? try csvRows(try parseCSV { p throws(CSVParser.ParseError) in try p.feed(bytes) }) : ndjson(bytes, final: false)
    }

    mutating func finish() throws(Failure) -> EventBatch {
        isCSV ? try csvRows(try parseCSV { p throws(CSVParser.ParseError) in try p.finish() }) : ndjson([], final: true)
    }

    private mutating func parseCSV(_ body: (inout CSVParser) throws(CSVParser.ParseError) -> [CSVParser.Row]) throws(Failure) -> [CSVParser.Row] {
        do throws(CSVParser.ParseError) {
            return try body(&csv)
        } catch {
            throw Failure(line: error.line, message: error.description)
        }
    }

    private mutating func csvRows(_ rows: [CSVParser.Row]) throws(Failure) -> EventBatch {
        var batch = EventBatch()
        eventLines = []
        for row in rows {
            guard let header else {
                if Set(row.fields).count != row.fields.count || row.fields.contains("") {
                    throw Failure(line: row.line, message: "CSV header row must name every column once")
                }
                self.header = row.fields
                continue
            }
            guard row.fields.count == header.count else {
                batch.errors.append(.init(index: row.line, line: row.line, reason: "row has \(row.fields.count) fields, the header has \(header.count)"))
                continue
            }
            var object: [String: JSONValue] = [:]
            for (name, value) in zip(header, row.fields) where !value.isEmpty { object[name] = .string(value) }
            let before = batch.events.count
            batch.add(.object(object), index: row.line, line: row.line, options: options)
            if batch.events.count > before { eventLines.append(row.line) }
        }
        return batch
    }

    private mutating func ndjson(_ bytes: [UInt8], final: Bool) -> EventBatch {
        carry += bytes
        var batch = EventBatch()
        eventLines = []
        var start = 0
        while true {
            guard let nl = carry[start...].firstIndex(of: 0x0A) else { break }
            line += 1
            consumeLine(carry[start..<nl], into: &batch)
            start = nl + 1
        }
        carry.removeFirst(start)
        if final, !carry.isEmpty {
            line += 1
            consumeLine(carry[...], into: &batch)
            carry = []
        } else if carry.count > options.limits.maxEventBytes {
            // An endless line: report it once and skip to its end.
            line += 1
            batch.errors.append(.init(index: line, line: line, reason: "event larger than \(options.limits.maxEventBytes) bytes"))
            carry = []
            skipping = true
        }
        return batch
    }

    private var skipping = false

    private mutating func consumeLine(_ raw: ArraySlice<UInt8>, into batch: inout EventBatch) {
        if skipping {
            skipping = false
            line -= 1
            return
        }
        var text = raw
        if text.last == 0x0D { text = text.dropLast() }
        if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        guard text.count <= options.limits.maxEventBytes else {
            batch.errors.append(.init(index: line, line: line, reason: "event larger than \(options.limits.maxEventBytes) bytes"))
            return
        }
        do throws(JSONParseError) {
            let value = try JSONParser().parse(Array(text))
            let before = batch.events.count
            batch.add(value, index: line, line: line, options: options)
            if batch.events.count > before { eventLines.append(line) }
        } catch {
            batch.errors.append(.init(index: line, line: line, reason: "malformed JSON: \(error.message) at column \(error.column)"))
        }
    }
}
