@testable import IdentityCore
import Model
import QL
import Runtime
import SegmentCore
import Testing
import TestSupport

/// Event data is outside input: whatever values an event carries, mapping, resolving, merging,
/// encoding and publishing answer (a profile, a dead letter) and never trap — a trap is a resolver
/// that crashes on the event, and again on every restart that replays it.
@Suite struct HostileEventTests {
    /// Every kind, with the merge ops that apply to it, fed from a handful of hostile inputs
    /// through plain columns and functions.
    static let mapping = """
    SELECT email, _uid,
        a AS f_int KIND int MERGEOP sum, a AS f_int_max KIND int MERGEOP max, b AS f_int_min KIND int MERGEOP min,
        a AS f_num KIND number MERGEOP sum, b AS f_num_latest KIND number MERGEOP latest, b AS f_num_oldest KIND number MERGEOP oldest,
        c AS f_bool KIND bool MERGEOP latest, d AS f_date KIND date MERGEOP oldest, d AS f_date_max KIND date MERGEOP max,
        e AS f_str KIND string MERGEOP latest, f AS f_set KIND []string MERGEOP merge, f AS f_ts KIND ts[]string MERGEOP merge,
        d AS f_times KIND []time MERGEOP merge,
        g AS f_mi KIND map[string]int MERGEOP sum, g AS f_mi_max KIND map[string]int MERGEOP mapmax, g AS f_mi_min KIND map[string]int MERGEOP mapmin,
        g AS f_mn KIND map[string]number MERGEOP latestmap, g AS f_ms KIND map[string]string MERGEOP oldestmap,
        g AS f_mt KIND map[string]time MERGEOP latestmap, g AS f_mb KIND map[string]bool MERGEOP merge,
        count(_uid) AS visits KIND int MERGEOP sum, valuect(e) AS e_counts KIND map[string]int MERGEOP sum,
        todate(d) AS f_todate KIND date MERGEOP latest, toint(a) AS f_toint KIND int MERGEOP max,
        a * b AS f_product KIND number MERGEOP sum, a + b AS f_isum KIND int MERGEOP sum,
        map(e, now()) AS f_seen KIND map[string]time MERGEOP latestmap, set(path(e)) AS f_paths KIND []string MERGEOP merge,
        hourofweek(d) AS f_how KIND int MERGEOP latest, epochms(d) AS f_ms_time KIND int MERGEOP min
    FROM shop INTO user BY email OR _uid ALIAS shop
    """

    @Test func hostileValues_mapResolveAndPublish_withoutTrapping() async throws {
        let schema = try AccountSchema(identity: IdentitySchema(keys: [
            IdentityKey(field: "email", rank: 1),
            IdentityKey(field: "_uid", rank: 2, kind: .set, capacity: 3, onFull: .evictOldest),
        ]), mappingText: Self.mapping)
        var rng = SeededRNG(seed: 11)
        var graph = IdentityGraph(account: "acme", schema: schema.identity)
        var outcomes: [String: Int] = [:]
        var published = 0
        for i in 0..<1_500 {
            // Yield now and then: a test holding one of the executor's threads for seconds stalls
            // every task beside it.
            if i % 100 == 0 { await Task.yield() }
            var data: [String: JSONValue] = [:]
            for name in ["a", "b", "c", "d", "e", "f", "g"] where rng.next() % 4 != 0 { data[name] = Hostile.value(&rng) }
            // Identities mostly valid, so profiles grow and merge; sometimes hostile too.
            data["email"] = rng.next() % 5 == 0 ? Hostile.value(&rng) : .string("p\(rng.next() % 40)@x.com")
            data["_uid"] = rng.next() % 5 == 0 ? Hostile.value(&rng) : .string("c\(rng.next() % 60)")
            let times: [Int64] = [0, 1, 1_795_000_000_000, 999_999_999_999_999]
            let event = EventRecord(account: "acme", stream: "shop", id: "e\(i % 1_300)", timestampMs: times[Int(rng.next() % 4)], data: data)
            switch EventMapper.map(event, schema: schema) {
            case .failure(let failure): outcomes["\(failure)".prefix(20).description, default: 0] += 1
            case .success(let mapped):
                let resolution = graph.apply(mapped)
                switch resolution.outcome {
                case .applied: outcomes["applied", default: 0] += 1
                case .duplicate: outcomes["duplicate", default: 0] += 1
                case .noIdentifier: outcomes["no identifier", default: 0] += 1
                }
                let changed = graph.changedProfile(resolution)
                #expect((changed != nil) == (resolution.outcome != .duplicate && resolution.outcome != .noIdentifier))
                ProfileRecords.changes(resolution, profile: changed, account: "acme") { id, writeValue in
                    var bytes: [UInt8] = []
                    writeValue(&bytes)
                    // What the resolver publishes is JSON that downstream reads back.
                    #expect((try? JSONParser().parse(bytes)) != nil, "\(id): \(String(decoding: bytes.prefix(300), as: UTF8.self))")
                    #expect(ProfileRecord.parse(bytes) != nil)
                    published += 1
                }
                // The compact store round-trips every changed profile.
                if let profile = changed { #expect(ProfileCodec.decode(id: profile.id, ProfileCodec.encode(profile)) == profile) }
            }
        }
        #expect((outcomes["applied"] ?? 0) > 400 && published > 400 && (outcomes["duplicate"] ?? 0) > 0, "\(outcomes)")
        #expect(graph.profiles.count > 1)
    }

    /// One event with `amount: 1e300` mapped to an int field used to crash the resolver (and
    /// every restart after it). Numbers that are not Int64s leave an int field as it was; NaN and
    /// infinities leave a number field as it was.
    @Test func numbersPastTheFieldKind_leaveTheFieldAsItWas() throws {
        let schema = try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1)]), mappingText: """
        SELECT email, amount AS total KIND int MERGEOP sum, amount * 10 AS scaled KIND number MERGEOP sum FROM shop INTO user BY email ALIAS shop
        """)
        var graph = IdentityGraph(account: "acme", schema: schema.identity)
        let amounts: [JSONValue] = [5, .double(1e300), "99999999999999999999999", .double(-1e19), .double(1.7976931348623157e308), 7]
        for (i, amount) in amounts.enumerated() {
            let event = EventRecord(account: "acme", stream: "shop", id: "e\(i)", timestampMs: 1_795_000_000_000 + Int64(i),
                                    data: ["email": "a@x.com", "amount": amount])
            guard case .success(let mapped) = EventMapper.map(event, schema: schema) else {
                Issue.record("event \(i) should map")
                continue
            }
            _ = graph.apply(mapped)
        }
        let profile = try #require(graph.profiles.values.first)
        #expect(profile.fields["total"]?.value == .int(12))
        // 1e300 * 10 is finite; 1.79e308 * 10 is not, and is skipped.
        #expect(profile.fields["scaled"]?.value == .number(50 + 1e301 + 1e24 - 1e20 + 70))
    }

    /// Mutated event records: parsed or refused with a reason.
    @Test func mutatedRecords_parseOrFailCleanly() {
        let samples = [
            #"{"v":1,"aid":"acme","stream":"web","id":"e1","ts":1795000000000,"data":{"_uid":"c1","email":"a@x.com","url":"https://x.com/a?b=1","n":[1,2,{"k":null}]}}"#,
            #"{"aid":"acme","stream":"crm","ts":"2026-11-29T10:00:00.123+01:00","data":{"email":"B@Y.com","plan":"pro","seats":5}}"#,
        ].map { Array($0.utf8) }
        var rng = SeededRNG(seed: 3)
        var refused = 0
        for round in 0..<5_000 {
            let bytes = Hostile.mutate(samples[round % samples.count], &rng)
            do {
                let event = try EventRecord.parse(bytes, fallbackID: "f", fallbackTimestampMs: 0)
                _ = EventMapper.map(event, schema: .defaultSchema())
            } catch {
                refused += 1
            }
        }
        #expect(refused > 0 && refused < 5_000)
    }
}
