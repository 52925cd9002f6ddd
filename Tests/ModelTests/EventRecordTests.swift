import Model
import Runtime
import Testing

@Suite struct EventTimeTests {
    @Test(arguments: [
        (JSONValue.int(1_795_000_000), Int64(1_795_000_000_000)),
        (.int(1_795_000_000_123), 1_795_000_000_123),
        (.double(1_795_000_000.5), 1_795_000_000_500),
        (.string("1795000000"), 1_795_000_000_000),
        (.string("2026-11-29T02:54:02.019Z"), 1_795_920_842_019),
        (.string("2026-11-29T02:54:02Z"), 1_795_920_842_000),
        (.string("2026-11-29T03:54:02.5+01:00"), 1_795_920_842_500),
        (.string("2026-11-28T21:54:02.019123-05:00"), 1_795_920_842_019),
        (.string("1970-01-01T00:00:00Z"), 0),
        (.string("2024-02-29T00:00:00Z"), 1_709_164_800_000),
    ])
    func parses(value: JSONValue, ms: Int64) {
        #expect(EventTime.parse(value) == ms)
    }

    @Test(arguments: [
        JSONValue.string("yesterday"), .string("2026-13-01T00:00:00Z"), .string("2023-02-29T00:00:00Z"),
        .string("2026-11-29T02:54:02"), .string("2026-11-29T02:54:02.Z"), .int(-5), .bool(true), .null, .string("2026-11-29T25:00:00Z"),
    ])
    func rejects(value: JSONValue) {
        #expect(EventTime.parse(value) == nil)
    }
}

@Suite struct EventRecordTests {
    @Test func roundTrips() throws {
        let e = EventRecord(account: "acme", stream: "web", id: "evt_1", timestampMs: 1_795_000_000_000, data: ["url": "/a", "n": 2])
        #expect(String(decoding: e.serialized(), as: UTF8.self) == #"{"aid":"acme","data":{"n":2,"url":"/a"},"id":"evt_1","stream":"web","ts":1795000000000,"v":1}"#)
        #expect(try EventRecord.parse(e.serialized(), fallbackID: "x", fallbackTimestampMs: 0) == e)
    }

    @Test func outsideProducers_mayOmitIdAndTs() throws {
        let e = try EventRecord.parse(Array(#"{"aid":"acme","stream":"crm","data":{"email":"a@b.c"}}"#.utf8), fallbackID: "cdp.events-0-17", fallbackTimestampMs: 42)
        #expect(e.id == "cdp.events-0-17")
        #expect(e.timestampMs == 42)
        let withTime = try EventRecord.parse(Array(#"{"aid":"acme","stream":"crm","ts":"2026-11-29T02:54:02.019Z","data":{}}"#.utf8), fallbackID: "f", fallbackTimestampMs: 42)
        #expect(withTime.timestampMs == 1_795_920_842_019)
    }

    /// Records read from bytes (members straight into place) and from a parsed object agree,
    /// including repeated keys (the last wins) and every rejection.
    @Test(arguments: [
        #"{"v":1,"aid":"acme","stream":"web","id":"e1","ts":1795000000000,"data":{"a":1},"extra":[1,2]}"#,
        #"{"aid":"acme","aid":"other","stream":"web","data":{"a":1},"data":{"b":2},"id":7}"#,
        #"{"aid":"acme","stream":"web","data":{},"id":null,"ts":null}"#,
        #"{"aid":"acme","stream":"web","data":{},"ts":"1795000000"}"#,
        #"{"aid":"acme","stream":"web","data":{},"id":""}"#,
        #"{"aid":"acme","stream":"web"}"#,
        #"{"v":"1","aid":"acme","stream":"web","data":{}}"#,
        #"{"aid":"acme","stream":"web","data":{},"aid":"Bad"}"#,
        #" "not an object" "#,
    ])
    func bytesAndObjects_parseAlike(text: String) throws {
        func outcome(_ body: () throws(EventRecord.ParseError) -> EventRecord) -> Result<EventRecord, EventRecord.ParseError> {
            do throws(EventRecord.ParseError) { return .success(try body()) } catch { return .failure(error) }
        }
        let fromBytes = outcome { () throws(EventRecord.ParseError) in try EventRecord.parse(Array(text.utf8), fallbackID: "f", fallbackTimestampMs: 5) }
        let fromObject = outcome { () throws(EventRecord.ParseError) in
            guard case .object(let o) = try? JSONParser().parse(text) else { throw .field("event must be a JSON object") }
            return try EventRecord.parse(object: o, fallbackID: "f", fallbackTimestampMs: 5)
        }
        #expect(fromBytes == fromObject)
    }

    @Test(arguments: [
        (#"[1]"#, "event must be a JSON object"),
        (#"{"aid":"ACME","stream":"w","data":{}}"#, "missing or invalid \"aid\""),
        (#"{"aid":"a","stream":"bad stream","data":{}}"#, "missing or invalid \"stream\""),
        (#"{"aid":"a","stream":"w","data":[]}"#, "\"data\" must be an object"),
        (#"{"aid":"a","stream":"w","data":{},"ts":"soon"}"#, "\"ts\" must be epoch seconds/milliseconds or RFC 3339"),
        (#"{"v":2,"aid":"a","stream":"w","data":{}}"#, "unsupported format version 2"),
    ])
    func rejectsBadRecords(text: String, message: String) {
        #expect(throws: EventRecord.ParseError.field(message)) {
            try EventRecord.parse(Array(text.utf8), fallbackID: "f", fallbackTimestampMs: 0)
        }
    }
}

@Suite struct IdentifierTests {
    @Test(arguments: [("acme", true), ("a-b_9", true), ("", false), ("Acme", false), ("-x", false), (String(repeating: "a", count: 65), false)])
    func accounts(id: String, ok: Bool) {
        #expect((Identifier.accountProblem(id) == nil) == ok)
    }

    @Test(arguments: [("web", true), ("Segment.v1-x_y", true), ("", false), ("a b", false), ("é", false)])
    func streams(name: String, ok: Bool) {
        #expect((Identifier.streamProblem(name) == nil) == ok)
    }
}
