import QL
import Runtime
import SegmentCore
import Testing
import TestSupport

/// `cdp.profiles` records are outside input for the segmenter: mutated records and records with
/// hostile field values are read or refused, and audiences evaluate over them, never trap.
@Suite struct HostileProfileTests {
    static let audiences = [
        AudienceSet.Definition(id: "a1", slug: "big", filterQL: #"FILTER AND (total > 100, last_visit > "now-30d", email LIKE "*@x.com")"#),
        AudienceSet.Definition(id: "a2", slug: "times", filterQL: #"FILTER OR (seen BETWEEN "now-7d" AND "now", hourofweek(last_visit) == 3, todate(when) < "now-1y")"#),
        AudienceSet.Definition(id: "a3", slug: "maths", filterQL: #"FILTER (total * ratio) / count % 7 >= 1 AND tags INTERSECTS ("a", "b") AND NOT plan IN ("free", 1)"#),
    ]

    @Test func hostileProfiles_areReadAndEvaluated() throws {
        let set = try AudienceSet(Self.audiences)
        var rng = SeededRNG(seed: 41)
        var read = 0
        for i in 0..<1_500 {
            var fields: [String: JSONValue] = [:]
            for name in ["total", "ratio", "count", "last_visit", "seen", "when", "tags", "plan", "email"] where rng.next() % 3 != 0 {
                fields[name] = Hostile.value(&rng, depth: 2)
            }
            var types: [String: JSONValue] = [:]
            for name in ["last_visit", "seen", "when"] where rng.next() % 2 == 0 { types[name] = "time" }
            let record: JSONValue = ["v": 1, "aid": "acme", "id": .string("p\(i)"), "version": .int(Int64(i)), "fields": .object(fields),
                                     "types": .object(types), "identities": ["email": ["a@x.com"]]]
            var bytes = record.serializedBytes()
            if i % 3 == 0 { bytes = Hostile.mutate(bytes, &rng) }
            guard let profile = ProfileRecord.parse(bytes) else { continue }
            read += 1
            for now: Int64 in [0, 1_795_000_000_000, Timestamp.maxMs] { _ = set.evaluate(profile.fields, nowMs: now) }
        }
        #expect(read > 1_000)
    }
}
