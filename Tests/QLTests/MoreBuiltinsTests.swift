@testable import QL
import Testing

@Suite struct MoreBuiltinsTests {
    static let cases: [(String, QLValue?)] = [
        ("hash.md5(\"abc\")", .string("900150983cd24fb0d6963f7d28e17f72")),
        ("hash.sha1(\"abc\")", .string("a9993e364706816aba3e25717850c26c9cd0d89d")),
        ("hash.sha256(\"abc\")", .string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")),
        ("hash.md5(\"\")", nil),
        ("hash(5)", nil),
        ("unsign(-1)", .string("18446744073709551615")),
        ("cast(12, \"string\")", .string("12")),
        ("cast(\"12.7\", \"int\")", .int(12)),
        ("seconds(\"M10:30\")", .number(630)),
        ("seconds(\"10:30\")", .number(630)),
        ("extract(todate(\"2026-11-29T13:05:09Z\"), \"%Y-%m-%d %I:%M:%S %p %B %A\")", .string("2026-11-29 01:05:09 PM November Sunday")),
        ("unixtrunc(todate(\"2026-11-29T00:00:01.250Z\"), \"seconds\")", .string("1795910401.250")),
        ("unixtrunc(todate(\"2026-11-29T00:00:01.250Z\"))", .string("1795910401")),
        ("todatein(\"2026-11-29 09:00:00\", \"America/New_York\")", .time(1_795_960_800_000)),
        ("maptime(\"Signup\", todate(\"2026-11-29\"))", .map(["signup": .time(1_795_910_400_000)])),
        ("filter(split(\"ab,ac,bd\", \",\"), \"a\")", .strings(["bd"])),
        ("filtermatch(split(\"ab,ac,bd\", \",\"), \"a*\")", .strings(["ab", "ac"])),
        ("urlmain(\"https://www.x.com/a/b?c=1\")", .string("www.x.com/a/b")),
        ("urlminusqs(\"https://x.com/p?b=2&a=1&drop=3\", \"drop\")", .string("https://x.com/p?a=1&b=2")),
        ("hosts(\"https://A.com/x\", \"b.org\")", .strings(["a.com", "b.org"])),
        ("ipfilter(\"10.1.2.3\", \"10.0.0.0/8\")", .bool(true)),
        ("ipfilter(\"11.1.2.3\", \"10.0.0.0/8\")", .bool(false)),
        ("ipfilter(\"2001:db8::1\", \"2001:db8::/32\")", .bool(true)),
        ("ipfilter(\"nope\", \"10.0.0.0/8\")", nil),
        ("useragent(\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1\", \"mobile\")", .string("true")),
        ("useragent(\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\", \"browser\")", .string("Chrome")),
        ("useragent(\"Googlebot/2.1 (+http://www.google.com/bot.html)\", \"bot\")", .string("true")),
        ("json.jmespath(\"{\\\"a\\\":{\\\"b\\\":[1,2,3]}}\", \"a.b[-1]\")", .int(3)),
        ("json.jmespath(\"{\\\"items\\\":[{\\\"n\\\":\\\"x\\\"},{\\\"n\\\":\\\"y\\\"}]}\", \"items[*].n\")", .list([.string("x"), .string("y")])),
        ("json.jmespath(\"{\\\"ok\\\":true}\", \"ok\")", .bool(true)),
    ]

    @Test(arguments: cases)
    func values(text: String, expected: QLValue?) throws {
        guard case .expression(let e) = try QLParser.parse(text) else {
            Issue.record("not an expression: \(text)")
            return
        }
        #expect(QLEvaluator.evaluate(e, QLContext(fields: [:], nowMs: 0)) == expected, "\(text)")
    }

    /// The SipHash paper's test vectors (key 00..0f): empty input, and bytes 00..07.
    @Test func sipHash_matchesTheReferenceVectors() {
        let k0: UInt64 = 0x0706_0504_0302_0100, k1: UInt64 = 0x0f0e_0d0c_0b0a_0908
        #expect(SipHash.hash24([], k0: k0, k1: k1) == 0x726f_db47_dd0e_0e31)
        #expect(SipHash.hash24(Array(0..<8), k0: k0, k1: k1) == 0x93f5_f579_9a93_2462)
    }
}

@Suite struct LyticsAdditionsTests {
    static let cases: [(String, QLValue?)] = [
        ("ifcase(\"gold\" IF score > 90, \"silver\" IF score > 50, \"bronze\")", .string("silver")),
        ("ifcase(\"gold\" IF score > 99)", nil),
        ("timebucket(todate(\"2026-11-29T13:45:00Z\"), \"hour\")", .time(1_795_910_400_000 + 13 * 3_600_000)),
        ("timebucket(todate(\"2026-11-29T13:45:00Z\"), \"month\")", .time(1_793_491_200_000)),
        ("todate(\"02/01/2006\", \"29/11/2026\")", .time(1_795_910_400_000)),
        ("todate(\"Jan 2, 2006 3:04 PM\", \"Nov 29, 2026 1:05 PM\")", .time(1_795_910_400_000 + 13 * 3_600_000 + 5 * 60_000)),
        ("todate(\"2006-01-02T15:04:05-0700\", \"2026-11-29T08:00:00-0500\")", .time(1_795_910_400_000 + 13 * 3_600_000)),
        ("match(\"utm_\")", .map(["source": .string("news"), "medium": .string("email")])),
        ("url.matchqs(\"https://x.com/p?utm_source=a&id=7&utm_medium=b\", \"^utm_\")", .string("x.com/p?utm_source=a&utm_medium=b")),
        ("epochms()", .int(1_795_953_600_000 - 86_400_000)),
    ]

    @Test(arguments: cases)
    func values(text: String, expected: QLValue?) throws {
        guard case .expression(let e) = try QLParser.parse(text) else {
            Issue.record("not an expression: \(text)")
            return
        }
        let c = QLContext(fields: ["score": .int(70), "utm_source": .string("news"), "utm_medium": .string("email"), "other": .int(1)],
                          messageTimeMs: 1_795_953_600_000 - 86_400_000, nowMs: 1_795_953_600_000)
        #expect(QLEvaluator.evaluate(e, c) == expected, "\(text)")
    }

    @Test func ifcase_compiles_too() throws {
        let f = try QLParser.parseFilter("FILTER ifcase(\"gold\" IF score > 90, \"silver\" IF score > 50, \"bronze\") == \"silver\"")
        let p = try QLProgram(f)
        #expect(p.matches(p.record(["score": .int(70)]), nowMs: 0))
        #expect(!p.matches(p.record(["score": .int(95)]), nowMs: 0))
    }
}

@Suite struct URLSplitTests {
    static let cases: [(String, String?, String?, String?)] = [
        ("https://shop.example/pricing?a=1#top", "shop.example", "/pricing", "a=1"),
        ("http://user:pw@host.com:8080/a/b", "host.com", "/a/b", ""),
        ("//cdn.example/x.js", "cdn.example", "/x.js", ""),
        ("shop.example/p", "shop.example", "/p", ""),
        ("/just/a/path?q", "", "/just/a/path", "q"),
        ("https://[::1]:8080/v6", "[::1]:8080", "/v6", ""),
        ("https://x.com", "x.com", "/", ""),
        ("mailto:a@b.c", "b.c", "/", ""),
        ("weird:/no/double", "weird", "/no/double", ""),
        ("https://é.example/ü?ä=1", "é.example", "/ü", "ä=1"),
        ("", nil, nil, nil),
    ]

    @Test(arguments: cases.indices) func splitsURLs(_ i: Int) {
        let (url, host, path, query) = Self.cases[i]
        let parts = WebFunctions.split(url)
        #expect(parts?.host == host && parts?.path == path && parts?.query == query, "\(url) -> \(String(describing: parts))")
    }
}

@Suite struct EmailFastPathTests {
    static let inputs = [
        "ada@example.com", "Ada@Example.COM", "a@b.c", "@x.com", "ada@", "ada@.com", "ada@com.", "ada@com", "a@@b.com",
        "a.b@c.d.e", "ada.@x.io", ".ada@x.io", "ada@x..io", " ada@x.com", "ada@x.com ", "Ada <ADA@x.com>", "\"A\" <a@x.com>",
        "ad a@x.com", "ädä@x.com", "ada@x.cöm", "ada@x.com>", "<ada@x.com", "a+tag@x.com", "A_B-C@X-Y.Z", "",
        String(repeating: "a", count: 250) + "@x.com", String(repeating: "a", count: 247) + "@x.com",
    ]

    /// The byte-scan fast path gives what the full rules give, whenever it answers.
    @Test(arguments: inputs)
    func plainEmail_agreesWithTheFullRules(input: String) {
        let full = WebFunctions.fullEmail(input)
        if let fast = WebFunctions.plainEmail(input) {
            #expect(full?.address == fast && full?.name == "", "\(input)")
        }
        #expect(WebFunctions.email(input)?.address == full?.address, "\(input)")
    }
}
