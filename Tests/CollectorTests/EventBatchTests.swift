import Collector
import Model
import Runtime
import Testing

func batch(_ text: String, contentType: String? = nil, timestampField: String? = nil, limits: CollectLimits = CollectLimits()) throws -> EventBatch {
    try EventBatch.parse(body: Array(text.utf8), contentType: contentType,
                         options: .init(account: "acme", stream: "web", timestampField: timestampField, receivedMs: 1000, limits: limits))
}

@Suite struct EventBatchTests {
    @Test(arguments: [
        (#"{"a":1}"#, nil as String?, 1),
        (#"[{"a":1},{"a":2},{"a":3}]"#, nil, 3),
        ("{\"a\":1}\n{\"a\":2}\n", nil, 2),
        ("{\"a\":1}\r\n\r\n{\"a\":2}", "application/x-ndjson", 2),
        (#"{"a":1}"#, "application/x-ndjson", 1),
        ("  \n [ {\"a\":1} ] \n", "application/json", 1),
    ])
    func everyBodyFormat(text: String, contentType: String?, count: Int) throws {
        let b = try batch(text, contentType: contentType)
        #expect(b.events.count == count)
        #expect(b.errors.isEmpty)
        #expect(b.events.allSatisfy { $0.account == "acme" && $0.stream == "web" && $0.timestampMs == 1000 && $0.id.hasPrefix("evt_") })
    }

    @Test func clientIdsAndTimesAreKept() throws {
        let b = try batch(#"[{"_id":"c-1","_ts":1795000000},{"event_id":7,"ts":"2026-11-29T02:54:02.019Z"},{"when":1795000000123}]"#)
        #expect(b.events.map(\.id).prefix(2) == ["c-1", "7"])
        #expect(b.events.map(\.timestampMs) == [1_795_000_000_000, 1_795_920_842_019, 1000])
        let custom = try batch(#"{"when":1795000000123,"_ts":5}"#, timestampField: "when")
        #expect(custom.events.first?.timestampMs == 1_795_000_000_123)
    }

    @Test func invalidItems_areListed_validOnesAccepted() throws {
        let b = try batch(#"[{"a":1}, 5, {"_ts":"later"}, {"_id":{"x":1}}, {"b":2}]"#)
        #expect(b.events.count == 2)
        #expect(b.errors == [
            .init(index: 1, line: nil, reason: "event must be a JSON object, not number"),
            .init(index: 2, line: nil, reason: "timestamp field '_ts' must be epoch seconds/milliseconds or RFC 3339"),
            .init(index: 3, line: nil, reason: "_id/event_id must be a non-empty string of at most 256 bytes or an integer"),
        ])
        let nd = try batch("{\"a\":1}\n{\"a\":\n[1]\n{\"c\":3}", contentType: "application/x-ndjson")
        #expect(nd.events.count == 2)
        #expect(nd.errors.map(\.line) == [2, 3])
        #expect(nd.errors[0].reason == "malformed JSON: unexpected end of input, expected a value at column 6")
    }

    @Test(arguments: [
        (#"{"a":1"#, "malformed JSON: unexpected end of input in object at line 1, column 7"),
        ("[{\"a\":1},\n {\"b\" 2}]", "malformed JSON: expected ':' after object key at line 2, column 7"),
        ("", "empty body: send a JSON object, an array of objects, or NDJSON"),
        ("   \n ", "empty body: send a JSON object, an array of objects, or NDJSON"),
        ("hello", "malformed JSON: unexpected character 'h', expected a value at line 1, column 1"),
    ])
    func unreadableBodies_areRefusedWhole(text: String, message: String) {
        #expect { try batch(text) } throws: { ($0 as? EventBatch.Failure)?.description == message }
    }

    @Test func limits() throws {
        let limits = CollectLimits(maxEventBytes: 40, maxEventsPerRequest: 3)
        #expect(throws: EventBatch.Failure.tooManyEvents(limit: 3)) { try batch("[{},{},{},{}]", limits: limits) }
        #expect(throws: EventBatch.Failure.tooManyEvents(limit: 3)) { try batch("{}\n{}\n{}\n{}", limits: limits) }
        let big = try batch(#"[{"pad":"\#(String(repeating: "x", count: 50))"},{"ok":1}]"#, limits: limits)
        #expect(big.events.count == 1)
        #expect(big.errors == [.init(index: 0, line: nil, reason: "event larger than 40 bytes")])
    }
}
