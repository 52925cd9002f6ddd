import Runtime

/// One raw event on `cdp.events` (key: account id):
/// `{"v":1,"aid":"acme","stream":"web","id":"<unique>","ts":<epoch ms>,"data":{...}}`.
///
/// External producers may omit `id` and `ts`; readers then use a deterministic id from the
/// record's coordinates and the record timestamp (`parse(_:fallbackID:fallbackTimestampMs:)`).
public struct EventRecord: Sendable, Equatable {
    public static let formatVersion: Int64 = 1

    public var account: String
    public var stream: String
    public var id: String
    /// Event time in epoch milliseconds.
    public var timestampMs: Int64
    public var data: [String: JSONValue]

    public init(account: String, stream: String, id: String, timestampMs: Int64, data: [String: JSONValue]) {
        self.account = account
        self.stream = stream
        self.id = id
        self.timestampMs = timestampMs
        self.data = data
    }

    public var json: JSONValue {
        ["v": .int(Self.formatVersion), "aid": .string(account), "stream": .string(stream), "id": .string(id),
         "ts": .int(timestampMs), "data": .object(data)]
    }

    public func serialized() -> [UInt8] {
        Self.encode(account: account, stream: stream, id: id, timestampMs: timestampMs, dataJSON: JSONValue.object(data).serializedBytes())
    }

    /// The record's bytes around an already serialised `data` object (keys in sorted order, as
    /// `JSONValue` writes them), so hot paths serialise each event once.
    public static func encode(account: String, stream: String, id: String, timestampMs: Int64, dataJSON: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(dataJSON.count + account.utf8.count + stream.utf8.count + id.utf8.count + 60)
        out.append(contentsOf: #"{"aid":"#.utf8)
        JSONText.appendQuoted(account, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: dataJSON)
        out.append(contentsOf: #","id":"#.utf8)
        JSONText.appendQuoted(id, to: &out)
        out.append(contentsOf: #","stream":"#.utf8)
        JSONText.appendQuoted(stream, to: &out)
        out.append(contentsOf: #","ts":"#.utf8)
        out.append(contentsOf: String(timestampMs).utf8)
        out.append(contentsOf: #","v":1}"#.utf8)
        return out
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case json(JSONParseError)
        case field(String)
        public var description: String {
            switch self {
            case .json(let e): "invalid JSON: \(e)"
            case .field(let message): message
            }
        }
    }

    /// Reads a record written by us or by an outside producer.
    public static func parse(_ bytes: [UInt8], fallbackID: @autoclosure () -> String, fallbackTimestampMs: Int64) throws(ParseError) -> EventRecord {
        // The members are read straight into their places: no table of the top-level object
        // (the last of a repeated key wins, as in a parsed object).
        var v, aid, stream, data, id, ts: JSONValue?
        let isObject: Bool
        do throws(JSONParseError) {
            isObject = try JSONParser().parseObject(bytes) { key, value in
                switch key {
                case "v": v = value
                case "aid": aid = value
                case "stream": stream = value
                case "data": data = value
                case "id": id = value
                case "ts": ts = value
                default: break
                }
            }
        } catch {
            throw .json(error)
        }
        guard isObject else { throw .field("event must be a JSON object") }
        return try make(v: v, aid: aid, stream: stream, data: data, id: id, ts: ts, fallbackID: fallbackID(), fallbackTimestampMs: fallbackTimestampMs)
    }

    /// Reads a record from its parsed JSON object.
    public static func parse(object o: [String: JSONValue], fallbackID: @autoclosure () -> String, fallbackTimestampMs: Int64) throws(ParseError) -> EventRecord {
        try make(v: o["v"], aid: o["aid"], stream: o["stream"], data: o["data"], id: o["id"], ts: o["ts"],
                 fallbackID: fallbackID(), fallbackTimestampMs: fallbackTimestampMs)
    }

    /// The record from its top-level members, checked.
    static func make(v: JSONValue?, aid: JSONValue?, stream: JSONValue?, data: JSONValue?, id: JSONValue?, ts: JSONValue?,
                     fallbackID: @autoclosure () -> String, fallbackTimestampMs: Int64) throws(ParseError) -> EventRecord {
        if let v, v.intValue != formatVersion { throw .field("unsupported format version \(v.serialized())") }
        guard let aid = aid?.stringValue, Identifier.accountProblem(aid) == nil else { throw .field("missing or invalid \"aid\"") }
        guard let stream = stream?.stringValue, Identifier.streamProblem(stream) == nil else { throw .field("missing or invalid \"stream\"") }
        guard case .object(let data)? = data else { throw .field("\"data\" must be an object") }
        let eventID: String
        switch id {
        case nil, .null?: eventID = fallbackID()
        case .string(let s)? where !s.isEmpty && s.utf8.count <= 256: eventID = s
        case .int(let i)?: eventID = String(i)
        default: throw .field("\"id\" must be a non-empty string of at most 256 bytes")
        }
        let time: Int64
        if let raw = ts, raw != .null {
            guard let parsed = EventTime.parse(raw) else { throw .field("\"ts\" must be epoch seconds/milliseconds or RFC 3339") }
            time = parsed
        } else {
            time = fallbackTimestampMs
        }
        return EventRecord(account: aid, stream: stream, id: eventID, timestampMs: time, data: data)
    }
}

/// Event time values: epoch seconds or milliseconds (number or numeric string), or RFC 3339.
public enum EventTime {
    /// Numbers below 10^11 are seconds (until the year 5138), larger ones milliseconds.
    public static func parse(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let i): return fromEpoch(Double(i))
        case .double(let d): return fromEpoch(d)
        case .string(let s):
            if let d = Double(s), d.isFinite { return fromEpoch(d) }
            return RFC3339.parseMs(s)
        default: return nil
        }
    }

    static func fromEpoch(_ v: Double) -> Int64? {
        guard v.isFinite, v >= 0, v < 1e15 else { return nil }
        return v < 1e11 ? Int64((v * 1000).rounded()) : Int64(v.rounded())
    }
}

/// RFC 3339 timestamps (`2026-11-29T10:00:00Z`, fractions, offsets), parsed without Foundation
/// date formatters (fast and locale-free).
public enum RFC3339 {
    public static func parseMs(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), b[7] == UInt8(ascii: "-"),
              let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"),
              let second = num(17, 2) else { return nil }
        guard (1...12).contains(month), (1...Timestamp.daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var millis = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        guard i < b.count else { return nil }
        var offsetMinutes = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2), oh < 24, om < 60 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = Timestamp.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }
}
