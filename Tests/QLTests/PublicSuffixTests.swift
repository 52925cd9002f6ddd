@testable import QL
import Testing

/// The Public Suffix List's own test cases (https://raw.githubusercontent.com/publicsuffix/list/master/tests/test_psl.txt,
/// lower-case inputs), plus the shapes `domain()` meets in URLs.
struct PublicSuffixTests {
    static let cases: [(String, String?)] = [
        ("com", nil), ("example.com", "example.com"), ("www.example.com", "example.com"),
        ("uk.com", nil), ("example.uk.com", "example.uk.com"), ("b.example.uk.com", "example.uk.com"), ("a.b.example.uk.com", "example.uk.com"),
        ("test.ac", "test.ac"),
        // A TLD with only a wildcard rule.
        ("mm", nil), ("c.mm", nil), ("b.c.mm", "b.c.mm"), ("a.b.c.mm", "b.c.mm"),
        // A more complex TLD.
        ("jp", nil), ("test.jp", "test.jp"), ("www.test.jp", "test.jp"), ("ac.jp", nil), ("test.ac.jp", "test.ac.jp"),
        ("www.test.ac.jp", "test.ac.jp"), ("kyoto.jp", nil), ("test.kyoto.jp", "test.kyoto.jp"), ("ide.kyoto.jp", nil),
        ("b.ide.kyoto.jp", "b.ide.kyoto.jp"), ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"), ("c.kobe.jp", nil), ("b.c.kobe.jp", "b.c.kobe.jp"),
        ("a.b.c.kobe.jp", "b.c.kobe.jp"), ("city.kobe.jp", "city.kobe.jp"), ("www.city.kobe.jp", "city.kobe.jp"),
        // A wildcard rule with an exception.
        ("ck", nil), ("test.ck", nil), ("b.test.ck", "b.test.ck"), ("a.b.test.ck", "b.test.ck"), ("www.ck", "www.ck"), ("www.www.ck", "www.ck"),
        // US K12.
        ("us", nil), ("test.us", "test.us"), ("www.test.us", "test.us"), ("ak.us", nil), ("test.ak.us", "test.ak.us"),
        ("www.test.ak.us", "test.ak.us"), ("k12.ak.us", nil), ("test.k12.ak.us", "test.k12.ak.us"), ("www.test.k12.ak.us", "test.k12.ak.us"),
        // Internationalised names, in Unicode and in punycode.
        ("食狮.com.cn", "食狮.com.cn"), ("食狮.公司.cn", "食狮.公司.cn"), ("www.食狮.公司.cn", "食狮.公司.cn"), ("shishi.公司.cn", "shishi.公司.cn"),
        ("公司.cn", nil), ("食狮.中国", "食狮.中国"), ("www.食狮.中国", "食狮.中国"), ("shishi.中国", "shishi.中国"), ("中国", nil),
        ("xn--85x722f.com.cn", "xn--85x722f.com.cn"), ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
        ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"), ("shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"), ("xn--55qx5d.cn", nil),
        ("xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"), ("www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
        ("shishi.xn--fiqs8s", "shishi.xn--fiqs8s"), ("xn--fiqs8s", nil),
        // A TLD the list does not know: the last label is the suffix.
        ("example", nil), ("example.example", "example.example"), ("b.example.example", "example.example"),
        // Private domains count, as in the list's full form.
        ("github.io", nil), ("ada.github.io", "ada.github.io"), ("docs.ada.github.io", "ada.github.io"),
        ("books.amazon.co.uk", "amazon.co.uk"), ("shop.example.com.au", "example.com.au"),
        // What URLs also carry.
        ("example.com.", "example.com"), ("192.168.1.10", nil), ("[::1]", nil), ("localhost", nil), ("", nil), (".", nil),
        ("a..example.com", nil), (".example.com", nil), ("1.2.3.example.com", "example.com"),
    ]

    @Test(arguments: cases.indices) func registrableDomains(_ i: Int) {
        let (host, expected) = Self.cases[i]
        #expect(PublicSuffix.registrableDomain(host) == expected, "\(host)")
    }

    @Test func overlongHostsHaveNoDomain() {
        let labels = Array(repeating: "a", count: 511).joined(separator: ".") + ".example.com"
        #expect(PublicSuffix.registrableDomain(labels) == nil)
        let fits = Array(repeating: "a", count: 400).joined(separator: ".") + ".example.com"
        #expect(PublicSuffix.registrableDomain(fits) == "example.com")
    }

    @Test func rulesAreLoaded() {
        let r = PublicSuffix.rules
        #expect(r.exact.count > 9000 && r.wildcard.contains("ck") && r.exception.contains("www.ck") && r.exact.contains("co.uk"))
    }

    @Test(arguments: [
        ("domain(\"https://WWW.Books.Amazon.CO.UK/x?y=1\")", QLValue.string("amazon.co.uk")),
        ("domain(\"https://ada.github.io/blog\")", .string("ada.github.io")),
        ("domains([\"https://a.example.com/\", \"http://b.example.co.jp/\", \"http://10.0.0.1/\"])", .strings(["example.com", "example.co.jp"])),
    ])
    func builtinsUseTheList(text: String, expected: QLValue) throws {
        guard case .expression(let e) = try QLParser.parse(text) else {
            Issue.record("not an expression: \(text)")
            return
        }
        #expect(QLEvaluator.evaluate(e, QLContext(fields: [:], nowMs: 0)) == expected, "\(text)")
    }

    @Test func domainOfAnIPAddressIsMissing() throws {
        guard case .expression(let e) = try QLParser.parse("domain(\"http://10.0.0.1:8080/x\")") else { return }
        #expect(QLEvaluator.evaluate(e, QLContext(fields: [:], nowMs: 0)) == nil)
    }
}
