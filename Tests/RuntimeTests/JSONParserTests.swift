import Runtime
import TestSupport
import Testing

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("{}", JSONValue.object([:])),
        ("[]", .array([])),
        ("null", .null),
        ("true", .bool(true)),
        (" false ", .bool(false)),
        ("0", .int(0)),
        ("-12", .int(-12)),
        ("9223372036854775807", .int(Int64.max)),
        ("9223372036854775808", .double(9_223_372_036_854_775_808)),
        ("-9223372036854775808", .int(Int64.min)),
        ("-9223372036854775809", .double(-9.223372036854776e18)),
        ("-0", .int(0)),
        ("99999999999999999999", .double(1e20)),
        ("1.5", .double(1.5)),
        ("-0.25e2", .double(-25)),
        ("1E3", .double(1000)),
        ("\"a\\\"b\\\\c\\/d\\n\"", .string("a\"b\\c/d\n")),
        ("\"\\u00e9\\ud83d\\ude00\"", .string("é😀")),
        ("\"héllo\"", .string("héllo")),
        ("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", .object(["a": .array([.int(1), .object(["b": .null])]), "c": .string("d")])),
        ("{\"k\":1,\"k\":2}", .object(["k": .int(2)])),
        ("{\"a\":{\"k\":1,\"k\":{\"x\":[{\"y\":1,\"y\":3}]}},\"b\":2,\"a2\":{}}",
         .object(["a": .object(["k": .object(["x": .array([.object(["y": .int(3)])])])]), "b": .int(2), "a2": .object([:])])),
        ("\"café \\u00e9\"", .string("café é")),
    ])
    func valid(text: String, expected: JSONValue) throws {
        #expect(try JSONParser().parse(text) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end of input, expected a value", 1, 1),
        ("{", "unexpected end of input in object", 1, 2),
        ("{\"a\" 1}", "expected ':' after object key", 1, 6),
        ("{\"a\":1,}", "expected a string key in object", 1, 8),
        ("[1,]", "unexpected character ']', expected a value", 1, 4),
        ("[1 2]", "expected ',' or ']' in array", 1, 4),
        ("{\n  \"a\": tru\n}", "invalid literal, expected 'true'", 2, 8),
        ("01", "leading zero in number", 1, 1),
        ("1.", "expected digits after '.'", 1, 3),
        ("-", "invalid number", 1, 1),
        ("\"abc", "unterminated string", 1, 1),
        ("\"a\u{01}\"", "control character in string", 1, 3),
        ("\"\\x\"", "invalid escape '\\x'", 1, 2),
        ("\"\\ud800\"", "unpaired surrogate in \\u escape", 1, 8),
        ("{} x", "unexpected data after the JSON value", 1, 4),
        ("1e999", "number out of range", 1, 1),
    ])
    func invalid_reportsWhatAndWhere(text: String, message: String, line: Int, column: Int) {
        #expect {
            try JSONParser().parse(text)
        } throws: { error in
            guard let e = error as? JSONParseError else { return false }
            return e.message == message && e.line == line && e.column == column
        }
    }

    /// `parseObject` gives each member in order; keeping the last of a repeated key gives `parse`'s
    /// object; other values give false; errors are `parse`'s (every case of the tables above).
    @Test func objectMembers_agreeWithParse() throws {
        var members: [(String, JSONValue)] = []
        #expect(try JSONParser().parseObject(Array(#" {"k":1,"a":[{"x":2}],"k":{"y":null}} "#.utf8)) { members.append(($0, $1)) })
        #expect(members.map(\.0) == ["k", "a", "k"])
        #expect(members.map(\.1) == [.int(1), .array([.object(["x": .int(2)])]), .object(["y": .null])])
        let valid = ["{}", "[]", "null", " false ", "-12", "\"a\"", "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", "{\"k\":1,\"k\":2}",
                     "{\"a\":{\"k\":1,\"k\":{\"x\":[{\"y\":1,\"y\":3}]}},\"b\":2,\"a2\":{}}"]
        for text in valid {
            var kept: [String: JSONValue] = [:]
            let isObject = try JSONParser().parseObject(Array(text.utf8)) { kept[$0] = $1 }
            let parsed = try JSONParser().parse(text)
            if case .object(let o) = parsed { #expect(isObject && kept == o, "\(text)") } else { #expect(!isObject && kept.isEmpty, "\(text)") }
        }
        let invalid = ["", "{", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "{\n  \"a\": tru\n}", "\"abc", "{} x", "{\"a\":1} {", "1e999"]
        for text in invalid {
            var parseError: JSONParseError?
            do { _ = try JSONParser().parse(text) } catch { parseError = error }
            #expect(throws: parseError!) { try JSONParser().parseObject(Array(text.utf8)) { _, _ in } }
        }
        // The depth limit counts the top-level object as `parse` does.
        let nested = "{\"a\":" + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
        #expect(try JSONParser().parseObject(Array(nested.utf8)) { _, _ in })
        let tooDeep = "{\"a\":" + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}"
        #expect(throws: JSONParseError.self) { try JSONParser().parse(tooDeep) }
        #expect(throws: JSONParseError.self) { try JSONParser().parseObject(Array(tooDeep.utf8)) { _, _ in } }
    }

    @Test func invalidUTF8_isRejected() {
        #expect(throws: JSONParseError.self) { try JSONParser().parse([0x22, 0xff, 0xfe, 0x22]) }
    }

    @Test func deepNesting_isBounded() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser().parse(ok)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try JSONParser().parse(tooDeep) }
        // Hostile input far past the limit must fail cleanly, not overflow the stack.
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser().parse(hostile) }
    }

    @Test(arguments: [
        JSONValue.object(["b": .int(1), "a": .array([.string("x\n\"y"), .null, .bool(true), .double(2.5)])]),
        .string("\u{0}\u{1f}é"),
        .double(1e300),
        .int(-42),
    ])
    func serialize_roundTrips(value: JSONValue) throws {
        #expect(try JSONParser().parse(value.serialized()) == value)
    }

    @Test(arguments: [0, 7, 9, 10, -1, -9, -10, 1_795_000_000_000, Int64.max, Int64.min, Int64.min + 1])
    func integers_writtenAsDecimalDigits(value: Int64) {
        var out: [UInt8] = [0x5B]
        JSONText.appendInt(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "[" + String(value))
    }

    @Test(arguments: ["", "plain ascii", "é and 😀", "quote \" back \\ slash", "line\nbreak\ttab\u{1}", "js \u{2028} \u{2029} end", "\u{e2}\u{80}"])
    func quotedStrings_roundTrip_andEscapeWhatJSONAndJavaScriptNeed(text: String) throws {
        var out: [UInt8] = []
        JSONText.appendQuoted(text, to: &out)
        let written = String(decoding: out, as: UTF8.self)
        #expect(try JSONParser().parse(out) == .string(text))
        #expect(!written.contains("\u{2028}") && !written.contains("\u{2029}") && !written.utf8.contains { $0 < 0x20 })
        #expect(written == JSONText.quote(text))
    }

    @Test func serialize_sortsKeysForStableBytes() {
        let v: JSONValue = ["z": 1, "a": 2, "m": ["y": true, "b": nil]]
        #expect(v.serialized() == #"{"a":2,"m":{"b":null,"y":true},"z":1}"#)
    }

    @Test func randomBytes_neverCrashTheParser() {
        var rng = SeededRNG(seed: 42)
        let alphabet = Array("{}[]\",:0123456789.eE+-truefalsnul\\u \n\t".utf8) + [0xff, 0xc3, 0x00]
        for _ in 0..<5000 {
            let length = Int(rng.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = try? JSONParser().parse(bytes)
        }
    }
}
