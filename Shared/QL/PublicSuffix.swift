/// Registrable domains by the Public Suffix List (https://publicsuffix.org/list/), as `domain()`
/// and `domains()` return them: the public suffix of a host plus one label
/// (`books.amazon.co.uk` → `amazon.co.uk`, `me.github.io` → `me.github.io`). The rules are
/// compiled in (`PublicSuffixRules.swift`, from `scripts/update-public-suffix-list`), so the same
/// build always gives the same answer.
public enum PublicSuffix {
    struct Rules: Sendable {
        /// Suffixes as written (`co.uk`).
        var exact: Set<String> = []
        /// `*.ck` kept as `ck`: any one label before it is a suffix.
        var wildcard: Set<String> = []
        /// `!www.ck` kept as `www.ck`: not a suffix although a wildcard covers it.
        var exception: Set<String> = []
    }

    /// Parsed once, on first use.
    static let rules: Rules = {
        var r = Rules()
        for line in ruleText.split(separator: "\n") {
            if line.hasPrefix("!") {
                r.exception.insert(String(line.dropFirst()))
            } else if line.hasPrefix("*.") {
                r.wildcard.insert(String(line.dropFirst(2)))
            } else {
                r.exact.insert(String(line))
            }
        }
        return r
    }()

    /// The registrable domain of `host` (lower-case; a trailing dot is ignored), or nil for a
    /// host that is itself a public suffix, an IP address, or not a well-formed name (empty
    /// labels, over 1,024 bytes).
    public static func registrableDomain(_ host: String) -> String? {
        var name = Substring(host)
        if name.hasSuffix(".") { name = name.dropLast() }
        // DNS names are at most 253 characters; the bound (generous for Unicode forms) also
        // keeps the suffix search, quadratic in the labels, cheap on hostile input.
        guard !name.isEmpty, name.utf8.count <= 1024, !name.hasPrefix("["), !isIPv4(name) else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, !labels.contains(where: \.isEmpty) else { return nil }
        let rules = self.rules
        func tail(_ i: Int) -> String { labels[i...].joined(separator: ".") }
        // An exception rule prevails: the name it matches is the registrable domain.
        for i in 0..<labels.count where rules.exception.contains(tail(i)) {
            return tail(i)
        }
        // Otherwise the longest matching rule is the public suffix (no rule: the last label).
        var suffixStart = labels.count - 1
        for i in 0..<labels.count {
            if rules.exact.contains(tail(i)) || (i + 1 < labels.count && rules.wildcard.contains(tail(i + 1))) {
                suffixStart = i
                break
            }
        }
        return suffixStart == 0 ? nil : tail(suffixStart - 1)
    }

    static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }
}
