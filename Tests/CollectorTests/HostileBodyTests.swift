import Collector
import ExportCore
import IdentityCore
import Model
import Runtime
import SegmentCore
import Testing
import TestSupport

/// What the collector's APIs accept from clients — event bodies, CSV uploads, schemas, audience
/// rule trees, export jobs — answers with a result or a precise error for mutated and hostile
/// input, never a trap.
@Suite struct HostileBodyTests {
    @Test func mutatedEventBodies_areAcceptedOrRefused() {
        let samples = [
            #"[{"email":"a@x.com","_ts":1795000000000,"url":"https://x.com/a"},{"_uid":"c1","ts":"2026-11-29T10:00:00Z","n":[1,{"k":null}]}]"#,
            "{\"email\":\"a@x.com\"}\n{\"_uid\":\"c2\",\"_id\":\"e9\"}\n",
        ].map { Array($0.utf8) }
        var rng = SeededRNG(seed: 51)
        var outcomes = (accepted: 0, refused: 0)
        for round in 0..<4_000 {
            let body = Hostile.mutate(samples[round % 2], &rng)
            let options = EventBatch.Options(account: "acme", stream: "web", timestampField: round % 5 == 0 ? "n" : nil, receivedMs: 1_795_000_000_000)
            do {
                _ = try EventBatch.parse(body: body, contentType: round % 4 == 0 ? "application/x-ndjson" : "application/json", options: options)
                outcomes.accepted += 1
            } catch {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.accepted > 0 && outcomes.refused > 0)
    }

    @Test func mutatedCSV_isReadOrRefused() {
        let sample = Array("email,plan,\"note, quoted\"\na@x.com,pro,\"multi\nline \"\"q\"\"\"\nb@y.com,,x\r\n".utf8)
        var rng = SeededRNG(seed: 52)
        var rows = 0
        for _ in 0..<3_000 {
            var parser = CSVParser(maxRowBytes: 4096)
            let bytes = Hostile.mutate(sample, &rng)
            let cut = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
            rows += ((try? parser.feed(bytes[..<cut])) ?? []).count
            rows += ((try? parser.feed(bytes[cut...])) ?? []).count
            rows += ((try? parser.finish()) ?? []).count
        }
        #expect(rows > 0)
    }

    /// Schemas, audience rule trees and export jobs built from hostile JSON values.
    @Test func hostileConfigurations_validateOrAreRefused() {
        var rng = SeededRNG(seed: 53)
        var valid = 0
        let schema: JSONValue = [
            "identity_keys": [["field": "email", "rank": 1], ["field": "_uid", "rank": 2, "kind": "set", "capacity": 5, "on_full": "evict_oldest", "ttl_days": 30, "blocked": ["x"]]],
            "fields": [["name": "plan", "kind": "string", "merge_op": "latest"]], "max_identifiers": 50,
            "mappings": .string(AccountSchema.defaultMappingText),
        ]
        #expect((try? AccountSchema.parse(schema)) != nil)
        for _ in 0..<1_500 {
            // A valid document with one member replaced by a hostile value.
            if case .object(var o) = schema, let key = o.keys.sorted().randomElement(using: &rng) {
                o[key] = Hostile.value(&rng)
                if (try? AccountSchema.parse(.object(o))) != nil { valid += 1 }
            }
            _ = try? AccountSchema.parse(Hostile.value(&rng))
            _ = try? RuleTree.filterQL(Hostile.value(&rng, depth: 4))
            var tree: JSONValue = ["op": "and", "rules": [["field": "visitct", "op": ">", "value": 3], ["field": "email", "op": "exists"]]]
            if case .object(var t) = tree, let key = ["op", "rules", "field", "value"].randomElement(using: &rng) {
                t[key] = Hostile.value(&rng)
                tree = .object(t)
            }
            _ = try? RuleTree.filterQL(tree)
            var job: [String: JSONValue] = ["type": "webhook", "name": "CRM", "segments": ["vip"],
                                            "destination": ["url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef0123"],
                                            "batch": ["max_users": 10, "max_wait_s": 5], "retry_budget_s": 60]
            job[["type", "name", "segments", "destination", "batch", "retry_budget_s", "trigger_fields", "fields"].randomElement(using: &rng)!] = Hostile.value(&rng)
            _ = try? ExportJob.parse(job, id: "j1", account: "acme")
        }
        #expect(valid > 0)
    }
}

/// Every route of the collector, over hostile paths, queries, headers and bodies: each answer is
/// a precise client error or a success — never a trap, never a 500.
@Suite struct CollectorHostileRouteTests {
    @Test func everyRoute_answersHostileRequestsWithoutA500() async throws {
        let fx = try await CollectorFixture()
        let (statuses, problems) = await Hostile.exercise(fx.router, token: adminToken, count: 2_500, seed: 71)
        #expect(fx.router.patterns.count > 20)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect((statuses[200] ?? 0) + (statuses[201] ?? 0) + (statuses[202] ?? 0) > 0 && (statuses[400] ?? 0) > 0, "\(statuses)")
    }
}
