import Crypto
import Model
import Runtime

/// Limits on what one collect request may carry.
public struct CollectLimits: Sendable {
    public var maxEventBytes = 256 * 1024
    public var maxEventsPerRequest = 10_000
    public init(maxEventBytes: Int = 256 * 1024, maxEventsPerRequest: Int = 10_000) {
        self.maxEventBytes = maxEventBytes
        self.maxEventsPerRequest = maxEventsPerRequest
    }
}

/// Turns a collect request body into event records.
///
/// The body is one JSON object, a JSON array of objects, or NDJSON (one object per line; chosen by
/// `Content-Type: application/x-ndjson` or detected when a body holds several values). The rule
/// for bad input: a body that cannot be read as JSON at all is refused whole (400, with the
/// position); in a readable body, each item that is not an acceptable event is listed with its
/// index and reason while the valid items are accepted. NDJSON lines are items, so a malformed
/// line rejects only that line.
public struct EventBatch: Sendable {
    public struct ItemError: Sendable, Equatable {
        /// Position of the item (0-based); for NDJSON also the line number (1-based).
        public var index: Int
        public var line: Int?
        public var reason: String

        public init(index: Int, line: Int?, reason: String) {
            self.index = index
            self.line = line
            self.reason = reason
        }

        public var json: JSONValue {
            var o: [String: JSONValue] = ["index": .int(Int64(index)), "reason": .string(reason)]
            if let line { o["line"] = .int(Int64(line)) }
            return .object(o)
        }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case syntax(JSONParseError)
        case tooManyEvents(limit: Int)
        case notJSON(String)

        public var description: String {
            switch self {
            case .syntax(let e): "malformed JSON: \(e.message) at line \(e.line), column \(e.column)"
            case .tooManyEvents(let limit): "more than \(limit) events in one request"
            case .notJSON(let message): message
            }
        }
    }

    public var events: [EventRecord] = []
    /// Each event's record bytes, serialised once while parsing (parallel to `events`).
    public var encoded: [[UInt8]] = []
    public var errors: [ItemError] = []

    /// How event ids and times are chosen.
    public struct Options: Sendable {
        public var account: String
        public var stream: String
        /// Field holding the event time (`?timestamp_field=`); else `_ts`, then `ts`.
        public var timestampField: String?
        /// Receive time, used when an event carries no time.
        public var receivedMs: Int64
        public var limits: CollectLimits

        public init(account: String, stream: String, timestampField: String? = nil, receivedMs: Int64, limits: CollectLimits = CollectLimits()) {
            self.account = account
            self.stream = stream
            self.timestampField = timestampField
            self.receivedMs = receivedMs
            self.limits = limits
        }
    }

    public static func parse(body: [UInt8], contentType: String?, options: Options) throws(Failure) -> EventBatch {
        let trimmed = body.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        guard let first = trimmed.first else { throw .notJSON("empty body: send a JSON object, an array of objects, or NDJSON") }
        let ndjsonDeclared = contentType.map { $0.lowercased().hasPrefix("application/x-ndjson") || $0.lowercased().hasPrefix("application/jsonl") } ?? false
        var batch = EventBatch()
        if !ndjsonDeclared {
            var whole: JSONValue?
            do throws(JSONParseError) {
                whole = try JSONParser().parse(body)
            } catch {
                // Several top-level objects: read as NDJSON. Anything else is a syntax error.
                guard first == UInt8(ascii: "{"), error.message == "unexpected data after the JSON value" else { throw .syntax(error) }
            }
            if let whole {
                if case .array(let items) = whole {
                    guard items.count <= options.limits.maxEventsPerRequest else { throw .tooManyEvents(limit: options.limits.maxEventsPerRequest) }
                    for (i, item) in items.enumerated() { batch.add(item, index: i, line: nil, options: options) }
                } else {
                    batch.add(whole, index: 0, line: nil, options: options)
                }
                return batch
            }
        }
        var index = 0
        var lineNumber = 0
        var start = body.startIndex
        while start <= body.endIndex {
            let end = body[start...].firstIndex(of: 0x0A) ?? body.endIndex
            lineNumber += 1
            var line = body[start..<end]
            if line.last == 0x0D { line = line.dropLast() }
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                guard index < options.limits.maxEventsPerRequest else { throw .tooManyEvents(limit: options.limits.maxEventsPerRequest) }
                if line.count > options.limits.maxEventBytes {
                    batch.errors.append(ItemError(index: index, line: lineNumber, reason: "event larger than \(options.limits.maxEventBytes) bytes"))
                } else {
                    do throws(JSONParseError) {
                        let value = try JSONParser().parse(Array(line))
                        batch.add(value, index: index, line: lineNumber, options: options)
                    } catch {
                        batch.errors.append(ItemError(index: index, line: lineNumber, reason: "malformed JSON: \(error.message) at column \(error.column)"))
                    }
                }
                index += 1
            }
            start = end + 1
        }
        if index == 0 { throw .notJSON("empty body: send a JSON object, an array of objects, or NDJSON") }
        return batch
    }

    mutating func add(_ value: JSONValue, index: Int, line: Int?, options: Options) {
        guard case .object(let data) = value else {
            errors.append(ItemError(index: index, line: line, reason: "event must be a JSON object, not \(value.typeName)"))
            return
        }
        let dataJSON = value.serializedBytes()
        guard dataJSON.count <= options.limits.maxEventBytes else {
            errors.append(ItemError(index: index, line: line, reason: "event larger than \(options.limits.maxEventBytes) bytes"))
            return
        }
        // Event time: the named field, else _ts, else ts, else receive time.
        var timestamp = options.receivedMs
        let timeField = options.timestampField ?? (data["_ts"] != nil ? "_ts" : (data["ts"] != nil ? "ts" : nil))
        if let timeField {
            guard let raw = data[timeField], raw != .null else {
                errors.append(ItemError(index: index, line: line, reason: "timestamp field '\(timeField)' is missing"))
                return
            }
            guard let parsed = EventTime.parse(raw) else {
                errors.append(ItemError(index: index, line: line, reason: "timestamp field '\(timeField)' must be epoch seconds/milliseconds or RFC 3339"))
                return
            }
            timestamp = parsed
        }
        // Event id: the client's (so retries de-duplicate downstream), else a new unique one.
        let id: String
        switch data["_id"] ?? data["event_id"] {
        case .string(let s)? where !s.isEmpty && s.utf8.count <= 256: id = s
        case .int(let i)?: id = String(i)
        case nil, .null?: id = EventIDs.next()
        default:
            errors.append(ItemError(index: index, line: line, reason: "_id/event_id must be a non-empty string of at most 256 bytes or an integer"))
            return
        }
        events.append(EventRecord(account: options.account, stream: options.stream, id: id, timestampMs: timestamp, data: data))
        encoded.append(EventRecord.encode(account: options.account, stream: options.stream, id: id, timestampMs: timestamp, dataJSON: dataJSON))
    }
}

/// New event ids: a random per-process prefix and a counter, so ids are unique across collectors
/// and cheap to make (no random draw per event).
public enum EventIDs {
    private static let prefix = "evt_" + Digest.hex(Digest.randomBytes(8))
    private static let counter = AtomicInt()

    public static func next() -> String {
        let n = counter.add(1)
        return prefix + String(UInt64(n), radix: 16)
    }
}
