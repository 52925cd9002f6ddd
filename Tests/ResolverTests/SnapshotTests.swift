import Model
import IdentityCore
import QL
import Runtime
import Testing

@Suite struct SnapshotTests {
    func events(_ range: Range<Int>) -> [MappedEvent] {
        range.map { i in
            var ids = [Identifier("_uid", "c\(i % 9)")]
            if i % 4 == 3 { ids.append(Identifier("email", "u\(i % 5)@x.com")) }
            return MappedEvent(id: "e\(i)", stream: i % 2 == 0 ? "web" : "app", timeMs: Int64(i) * 60_000, identifiers: ids,
                               values: ["visits": .int(1), "name": .string("n\(i)"), "seen": .time(Int64(i) * 60_000),
                                        "tags": .strings(["t\(i % 3)"]), "score": .number(Double(i) / 3)])
        }
    }

    @Test func restoredGraph_equalsTheOriginal_andContinuesIdentically() throws {
        var original = IdentityGraph(account: "acme", schema: webSchema)
        for e in events(0..<60) { _ = original.apply(e) }
        let bytes = SnapshotFile.encode(topic: "cdp.events", partition: 2, offset: 60, state: original.snapshot())
        guard case .success(let (offset, state)) = SnapshotFile.decode(bytes, topic: "cdp.events", partition: 2),
              var restored = IdentityGraph.restore(state, schema: webSchema) else {
            Issue.record("snapshot did not load")
            return
        }
        #expect(offset == 60)
        #expect(restored.profiles == original.profiles)
        #expect(restored.owner == original.owner)
        #expect(restored.mergesByKey == original.mergesByKey)
        // A duplicate of an event before the snapshot is still recognised.
        #expect(restored.apply(events(59..<60)[0]).outcome == .duplicate)
        for e in events(60..<120) {
            _ = original.apply(e)
            _ = restored.apply(e)
        }
        #expect(restored.profiles == original.profiles)
    }

    /// Snapshots written before event ids were kept as fingerprints still restore their
    /// dedupe table.
    @Test func olderSnapshotsWithEventIds_stillRecogniseDuplicates() throws {
        var original = IdentityGraph(account: "acme", schema: webSchema)
        for e in events(0..<10) { _ = original.apply(e) }
        guard case .object(var doc) = original.snapshot() else { Issue.record("not an object"); return }
        doc["seen64"] = nil
        doc["seen"] = .object(Dictionary(uniqueKeysWithValues: (0..<10).map { ("e\($0)", JSONValue.int(Int64($0) * 60_000)) }))
        guard var restored = IdentityGraph.restore(.object(doc), schema: webSchema) else { Issue.record("did not restore"); return }
        #expect(restored.apply(events(9..<10)[0]).outcome == .duplicate)
        #expect(restored.apply(events(10..<11)[0]).outcome != .duplicate)
    }

    func problem(_ r: Result<(offset: Int64, state: JSONValue), SnapshotFile.Problem>) -> SnapshotFile.Problem? {
        if case .failure(let p) = r { return p }
        return nil
    }

    @Test func corruptOrMismatchedSnapshots_areRefused() {
        let good = SnapshotFile.encode(topic: "cdp.events", partition: 1, offset: 5, state: ["account": "a", "profiles": []])
        #expect(problem(SnapshotFile.decode(Array(good.prefix(good.count / 2)), topic: "cdp.events", partition: 1)) == .unreadable("not JSON (truncated?)"))
        #expect(problem(SnapshotFile.decode(good, topic: "cdp.events", partition: 2)) == .mismatch("written for cdp.events[1]"))
        var tampered = String(decoding: good, as: UTF8.self)
        tampered = tampered.replacingOccurrences(of: "\"account\":\"a\"", with: "\"account\":\"b\"")
        #expect(problem(SnapshotFile.decode(Array(tampered.utf8), topic: "cdp.events", partition: 1)) == .unreadable("checksum mismatch"))
    }
}

import Foundation
