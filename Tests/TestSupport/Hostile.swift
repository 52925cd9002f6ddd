import Runtime

/// Hostile inputs for "never crashes" tests: values at the edges of every type, and byte-level
/// mutations of valid records. Seeded, so a failure reproduces.
public enum Hostile {
    /// Numbers at and past the edges of Int64 and Double as JSON can carry them.
    public static let numbers: [JSONValue] = [
        .int(0), .int(-1), .int(1), .int(Int64.max), .int(Int64.min), .int(Int64.max - 1), .int(Int64.min + 1),
        .int(253_402_300_799_999), .int(-62_135_596_800_001), .int(4_102_444_800_000), .int(1 << 53),
        .double(1e300), .double(-1e300), .double(1.7976931348623157e308), .double(-1.7976931348623157e308),
        .double(.leastNonzeroMagnitude), .double(-0.0), .double(0.5), .double(9.223372036854775807e18), .double(-9.223372036854775808e18),
        .double(1e19), .double(-1e19), .double(123456789.987654321),
    ]

    /// Texts that parse as numbers, dates, durations, URLs, emails, escapes, or nearly do.
    public static let strings: [String] = [
        "", " ", "0", "-0", "1e300", "-1e300", "1e999", "-1e999", "NaN", "nan", "inf", "-Infinity", "Infinity",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999",
        "0x7fffffffffffffff", "1,234,567.89", "$1e308", "€-1e400", "£", "1.", ".", "-", "+", "e", "1e", "--1",
        "true", "false", "null", "undefined", "anonymous", "-1", "0000", "----",
        "2026-02-30", "2026-13-01", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "99999-01-01",
        "-271821-04-20T00:00:00Z", "275760-09-13T00:00:00Z", "2026-11-29T25:61:61Z", "2026-11-29T10:00:00+99:99",
        "1795000000000", "17950000000000000000", "-17950000000000000000",
        "now", "now-1d", "now+9999999999999y", "now-9223372036854775807ms", "now-1e300d", "now-", "now-d", "now-1x",
        "P1D", "1h", "9999999999999999h", "-9223372036854775808s",
        "https://", "https://a", "http://[::1", "http://[::1]:99999999/x", "https://a.b.example.co.uk/p?q=%zz&%=%",
        "https://\u{0}/", "//x", "ftp://x/y#z", "a@", "@b", "a@@b", "Ada <a@b.co", "<>", "mailto:",
        "%", "%%", "%zz", "%e2%80", "%ff%fe", "a+b%20c", "\\", "\\u", "\\uD800", "\"", "'",
        "\u{0}", "\u{7}\u{1B}[2J", "\u{2028}\u{2029}", "\u{FEFF}", "e\u{301}\u{301}\u{301}", "🧑‍🚀🏳️‍🌈", "ﷺ", "İı",
        "*", "**", "?", "[", "[]", "{", "}", "a*b**c?", "a.b.c", "a..b", "$", "$.x", "[0]", "[-1]", "[*]",
        String(repeating: "a", count: 20_000), String(repeating: "%", count: 10_000), String(repeating: "🧑‍🚀", count: 3_000),
        String(repeating: "1", count: 400), String(repeating: "9", count: 20) + "." + String(repeating: "9", count: 400),
    ]

    /// A hostile JSON value: a number, a text, or a container of them, up to `depth` deep.
    public static func value(_ rng: inout SeededRNG, depth: Int = 3) -> JSONValue {
        switch rng.next() % 10 {
        case 0, 1, 2: return numbers[Int(rng.next() % UInt64(numbers.count))]
        case 3, 4, 5: return .string(strings[Int(rng.next() % UInt64(strings.count))])
        case 6: return rng.next() % 2 == 0 ? .bool(rng.next() % 2 == 0) : .null
        case 7 where depth > 0:
            return .array((0..<Int(rng.next() % 5)).map { _ in value(&rng, depth: depth - 1) })
        case 8 where depth > 0:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int(rng.next() % 5) { o[strings[Int(rng.next() % UInt64(strings.count))]] = value(&rng, depth: depth - 1) }
            return .object(o)
        case 9 where depth > 0:
            // Deep nesting of one kind.
            var v: JSONValue = numbers[Int(rng.next() % UInt64(numbers.count))]
            for _ in 0..<Int(rng.next() % 40) { v = rng.next() % 2 == 0 ? .array([v]) : .object(["k": v]) }
            return v
        default: return .string(strings[Int(rng.next() % UInt64(strings.count))])
        }
    }

    /// `sample` changed in one to three places: bits flipped, bytes cut, repeated, or replaced
    /// with structural bytes, invalid UTF-8 and number edges.
    public static func mutate(_ sample: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var bytes = sample
        let tokens: [[UInt8]] = ["\"", "{", "}", "[", "]", ",", ":", "\\", "\\u", "\\uD800", "1e999", "-", "0", "null", "9223372036854775808",
                                 "[[[[[[[[", "\"\"", "{}", "[]", "true", "\n", "\u{0}"].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xE2, 0x80], [0xF0, 0x9F]]
        for _ in 0...Int(rng.next() % 3) {
            guard !bytes.isEmpty else { return tokens[Int(rng.next() % UInt64(tokens.count))] }
            let at = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 6 {
            case 0: bytes[at] ^= UInt8(1 << (rng.next() % 8))
            case 1: bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(rng.next() % 16)))
            case 2: bytes.insert(contentsOf: tokens[Int(rng.next() % UInt64(tokens.count))], at: at)
            case 3:
                let end = min(bytes.count, at + 1 + Int(rng.next() % 32))
                bytes.insert(contentsOf: bytes[at..<end], at: at)
            case 4: bytes.removeSubrange(at...)
            default: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return bytes
    }
}
