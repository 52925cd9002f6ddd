import ExportCore
import Runtime
import Testing
import TestSupport

/// `cdp.memberships` and `cdp.exports` records are outside input for the exporter: mutated
/// copies of valid ones parse or are refused, never trap.
@Suite struct ExporterHostileRecordTests {
    @Test func mutatedMembershipAndExportsRecords_parseOrAreRefused() throws {
        let membership = Array(#"{"v":1,"aid":"acme","profile":"p_1","version":7,"segments":["vip","known"],"transitions":[{"segment":"vip","action":"enter","ts":"2026-11-29T10:00:00.000Z"},{"segment":"old","action":"exit","ts":"2026-11-29T10:00:01.000Z"}]}"#.utf8)
        let lane = Array(#"{"v":1,"type":"lane","aid":"acme","job":"j1","partition":3,"generation":2,"memberships_offset":100,"profiles_offset":50,"existing_done":false,"existing_cursor":"p_9","status":"ok","batch_id":"b1","delivered":10,"dead_lettered":1,"at":"2026-11-29T10:00:00.000Z"}"#.utf8)
        let dead = Array(#"{"v":1,"type":"dead","aid":"acme","job":"j1","partition":9223372036854775807,"batch_id":"b2","items":3,"reason":"503","payload":"[]","at":"2026-11-29T10:00:00.000Z"}"#.utf8)
        #expect(MembershipRecord.parse(membership)?.transitions.count == 2)
        #expect(ExportsRecord.parse(lane) != nil && ExportsRecord.parse(dead) != nil)
        var rng = SeededRNG(seed: 31)
        var refused = 0
        var state = ExportsState()
        for round in 0..<6_000 {
            let bytes = Hostile.mutate([membership, lane, dead][round % 3], &rng)
            if round % 3 == 0 {
                if MembershipRecord.parse(bytes) == nil { refused += 1 }
            } else if let record = ExportsRecord.parse(bytes) {
                state.apply(record)
            } else {
                refused += 1
            }
        }
        #expect(refused > 0 && refused < 6_000)
    }
}
