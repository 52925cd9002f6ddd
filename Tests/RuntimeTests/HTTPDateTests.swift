import Runtime
import TestSupport
import Testing

struct HTTPDateTests {
    /// 2026-11-29 00:00:00 GMT: two-digit years up to 76 are this century, later ones the last.
    static let now: Int64 = 1_795_910_400_000

    static let cases: [(String, Int64?)] = [
        // The three forms of RFC 9110's example.
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777_000),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777_000),
        ("Sun Nov  6 08:49:37 1994", 784_111_777_000),
        ("Sun Nov 06 08:49:37 1994", 784_111_777_000),
        ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800_000),
        ("Fri, 31 Dec 1999 23:59:59 GMT", 946_684_799_000),
        // Two-digit years: not more than 50 years ahead of now.
        ("Wednesday, 01-Jan-70 00:00:00 GMT", 3_155_760_000_000),
        ("Tuesday, 01-Jan-80 00:00:00 GMT", 315_532_800_000),
        // Not dates.
        ("", nil), ("5", nil), ("soon", nil),
        ("Sun, 06 Nov 1994 08:49:37", nil), ("Sun, 06 Nov 1994 08:49:37 UTC", nil), ("Sun, 06 Nov 1994 08:49:37 gmt", nil),
        ("Sun, 6 Nov 1994 08:49:37 GMT", nil), ("Sun, 06 nov 1994 08:49:37 GMT", nil), ("Sun, 06 Nov 94 08:49:37 GMT", nil),
        ("Sunday, 06 Nov 1994 08:49:37 GMT", nil), ("Sun, 06-Nov-94 08:49:37 GMT", nil), ("Xyz, 06 Nov 1994 08:49:37 GMT", nil),
        ("Sun, 30 Feb 1994 08:49:37 GMT", nil), ("Fri, 29 Feb 2023 00:00:00 GMT", nil), ("Sun, 00 Nov 1994 08:49:37 GMT", nil),
        ("Sun, 06 Nov 1994 24:00:00 GMT", nil), ("Sun, 06 Nov 1994 08:60:00 GMT", nil), ("Sun, 06 Nov 1994 8:49:37 GMT", nil),
        ("Sun, +6 Nov 1994 08:49:37 GMT", nil), ("Sun, 06 Nov 1994 08:49 GMT", nil), ("Sun, 06 Nov 0000 08:49:37 GMT", nil),
        ("Sunday, 06-Nov-1994 08:49:37 GMT", nil), ("Sun Nov  6 08:49:37 94", nil), ("Sun Nov 6 08:49:37 1994 GMT", nil),
    ]

    @Test(arguments: cases.indices) func parses(_ i: Int) {
        let (text, expected) = Self.cases[i]
        #expect(HTTPDate.parse(text, nowMs: Self.now) == expected, "\(text)")
    }

    @Test func formatsIMFFixdates_thatParseBack() {
        #expect(HTTPDate.format(784_111_777_000) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(784_111_777_999) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        #expect(HTTPDate.format(1_709_164_800_000) == "Thu, 29 Feb 2024 00:00:00 GMT")
        var generator = SeededRNG(seed: 9)
        for _ in 0..<2000 {
            let ms = Int64(generator.next() % 8_000_000_000_000) // 1970 to ~2223
            #expect(HTTPDate.parse(HTTPDate.format(ms), nowMs: Self.now) == ms / 1000 * 1000)
        }
    }

    @Test func leapSecondIsTheNextSecond() {
        #expect(HTTPDate.parse("Sat, 31 Dec 2016 23:59:60 GMT", nowMs: Self.now) == HTTPDate.parse("Sun, 01 Jan 2017 00:00:00 GMT", nowMs: Self.now))
    }
}
