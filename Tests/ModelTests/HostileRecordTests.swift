import Model
import Runtime
import Testing
import TestSupport

/// Records on the topics are outside input (any producer can write them): mutated copies of
/// valid records parse or are refused, never trap.
@Suite struct HostileRecordTests {
    @Test func mutatedConfigDocuments_parseOrAreRefused() {
        let key = ConfigKey(account: "acme", kind: "audience", id: "vip")
        let valid = ConfigDocument(key: key, version: 3, createdMs: 1_795_000_000_000, updatedMs: 1_795_000_000_500, updatedBy: "admin",
                                   body: ["name": "VIP", "filter": #"FILTER AND (visitct > 3, email LIKE "*@x.com")"#, "tags": ["a", "b"]])
        let sample = valid.json.serializedBytes()
        #expect(ConfigDocument.parse(key: key, value: sample) == valid)
        var rng = SeededRNG(seed: 21)
        var refused = 0
        for _ in 0..<4_000 {
            let bytes = Hostile.mutate(sample, &rng)
            if ConfigDocument.parse(key: key, value: bytes) == nil { refused += 1 }
            _ = ConfigKey(parsing: String(decoding: bytes.prefix(80), as: UTF8.self))
        }
        #expect(refused > 0 && refused < 4_000)
    }

    @Test func mutatedSnapshots_areRefusedWithAReason() {
        let sample = SnapshotFile.encode(topic: "cdp.events", partition: 3, offset: 42, state: ["accounts": ["acme": ["n": 1, "list": [1, 2.5, "x"]]]])
        guard case .success(let good) = SnapshotFile.decode(sample, topic: "cdp.events", partition: 3) else {
            Issue.record("a valid snapshot should decode")
            return
        }
        #expect(good.offset == 42)
        var rng = SeededRNG(seed: 22)
        var refused = 0
        for _ in 0..<3_000 {
            if case .failure = SnapshotFile.decode(Hostile.mutate(sample, &rng), topic: "cdp.events", partition: 3) { refused += 1 }
        }
        // The digest catches nearly every change to the state; what still decodes is equivalent.
        #expect(refused > 2_500)
    }

    @Test func hostileEventTimes_areReadOrRefused() {
        var rng = SeededRNG(seed: 23)
        for _ in 0..<3_000 {
            // Epoch numbers from 1970 to 10^15 ms; RFC 3339 texts from year 0000 to 9999.
            if let t = EventTime.parse(Hostile.value(&rng)) {
                #expect(t >= -62_167_219_200_000 && t < 1_000_000_000_000_000)
            }
        }
        for text in Hostile.strings { _ = RFC3339.parseMs(text) }
        #expect(EventTime.parse(.double(1e300)) == nil && EventTime.parse(.string("-1e999")) == nil)
    }
}
