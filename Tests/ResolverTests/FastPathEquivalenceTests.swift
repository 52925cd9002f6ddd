@testable import IdentityCore
import QL
import Runtime
import Testing

/// The resolver's hot paths have simpler, slower definitions; these properties check that both
/// give the same results over generated inputs.
@Suite struct FastPathEquivalenceTests {
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
    }

    static let specs: [FieldSpec] = [
        FieldSpec(name: "f", kind: "string", mergeOp: "latest"),
        FieldSpec(name: "f", kind: "string", mergeOp: "oldest"),
        FieldSpec(name: "f", kind: "int", mergeOp: "sum"),
        FieldSpec(name: "f", kind: "int", mergeOp: "max"),
        FieldSpec(name: "f", kind: "number", mergeOp: "min"),
        FieldSpec(name: "f", kind: "date", mergeOp: "latest"),
        FieldSpec(name: "f", kind: "[]string", mergeOp: "merge"),
        FieldSpec(name: "f", kind: "[]string", mergeOp: "latest"),
        FieldSpec(name: "f", kind: "map[string]int", mergeOp: "sum"),
        FieldSpec(name: "f", kind: "map[string]int", mergeOp: "mapmax"),
        FieldSpec(name: "f", kind: "map[string]int", mergeOp: "mapmin"),
        FieldSpec(name: "f", kind: "map[string]time", mergeOp: "latestmap"),
        FieldSpec(name: "f", kind: "map[string]string", mergeOp: "oldestmap"),
        FieldSpec(name: "f", kind: "map[string]string", mergeOp: "merge"),
    ]

    static func value(for spec: FieldSpec, _ r: inout Rng) -> QLValue {
        let word = ["a", "b", "c", "d", "e", "f"]
        switch spec.kind {
        case "int": return .int(Int64(r.next(5)))
        case "number": return .number(Double(r.next(100)) / 4)
        case "date": return .time(Int64(r.next(1000)))
        case "[]string": return .strings((0..<(1 + r.next(3))).map { _ in word[r.next(word.count)] })
        case "map[string]int": return .map(Dictionary((0..<(1 + r.next(3))).map { _ in (word[r.next(4)], QLValue.int(Int64(r.next(9)))) }, uniquingKeysWith: { a, _ in a }))
        case "map[string]time": return .map([word[r.next(3)]: .time(Int64(r.next(1000)))])
        case "map[string]string": return .map([word[r.next(3)]: .string(word[r.next(word.count)])])
        default: return r.next(6) == 0 ? .int(Int64(r.next(3))) : .string(word[r.next(word.count)])
        }
    }

    /// `FieldMerge.update` (in place) equals its plain definition `FieldMerge.applyTracked`
    /// (`apply` plus the change bookkeeping), for in-order, tied and late events.
    @Test(arguments: Array(0..<specs.count))
    func inPlaceUpdateEqualsCombine(spec index: Int) {
        let spec = Self.specs[index]
        for seed in 1...40 {
            var r = Rng(state: UInt64(seed * 7919 + index))
            var t: Int64 = 1000
            let first = Self.value(for: spec, &r)
            guard var fast = FieldMerge.initial(spec, first, at: t, stream: "s0") else { continue }
            var reference = fast
            for step in 1...30 {
                // Mostly later events; some at the same time, some late.
                switch r.next(6) {
                case 0: t -= Int64(r.next(50))
                case 1: break
                default: t += Int64(1 + r.next(20))
                }
                let v = Self.value(for: spec, &r)
                let stream = "s\(step)"
                FieldMerge.update(spec, &fast, v, at: t, stream: stream)
                reference = FieldMerge.applyTracked(spec, reference, v, at: t, stream: stream)
                #expect(fast == reference, "\(spec.kind) \(spec.mergeOp) seed \(seed) step \(step)")
                if fast != reference { return }
            }
        }
    }

    /// One member merged into a set (`mergeMember`, no lists) gives what the general merge of
    /// several gives (the same member twice takes that path): same members, times and answer,
    /// for new members, members seen again later, earlier or at the same time, and members
    /// known only by their time.
    @Test func oneMember_mergesAsTheGeneralPath() {
        var r = Rng(state: 77)
        let words = ["a", "b", "c", "d", "e", "f", "g"]
        for _ in 0..<3000 {
            var times = KeyTimes()
            for w in words where r.next(2) == 0 { times[w] = Int64(r.next(20)) }
            // Members ordered by (time, name), as the merge keeps them; some timed ones left out.
            var members = times.keys.filter { _ in r.next(5) != 0 }.sorted { (times[$0]!, $0) < (times[$1]!, $1) }
            if r.next(8) == 0 { members.removeAll() }
            let m = words[r.next(words.count)], at = Int64(r.next(22))
            var (fastMembers, fastTimes) = (members, times)
            let fast = FieldMerge.mergeMember(&fastMembers, &fastTimes, m, at: at)
            let general = FieldMerge.mergeMembers(&members, &times, [m, m], at: at)
            #expect(fast == general && fastMembers == members && fastTimes == times, "\(m) at \(at)")
        }
    }

    /// `Profile.jsonBytes` writes exactly what serialising `Profile.json` gives.
    @Test(arguments: [1, 2, 3])
    func directProfileEncodingEqualsTheJSONTree(seed: UInt64) {
        let schema = IdentitySchema(keys: [IdentityKey(field: "email", rank: 1), IdentityKey(field: "_uid", rank: 2, kind: .set, capacity: 3, onFull: .evictOldest)],
                                    fields: Self.specs.enumerated().map { FieldSpec(name: "f\($0.offset)", kind: $0.element.kind, mergeOp: $0.element.mergeOp) })
        var g = IdentityGraph(account: "acme \"co\"", schema: schema)
        var r = Rng(state: seed)
        let odd = ["plain", "quote \" and \\ backslash", "line\nbreak\ttab", "ünïcødé ✓", "\u{2028}sep", "ctl\u{01}"]
        for i in 0..<300 {
            var values: [String: QLValue] = [:]
            for (n, spec) in Self.specs.enumerated() where r.next(3) == 0 { values["f\(n)"] = Self.value(for: spec, &r) }
            values["free\(r.next(3))"] = r.next(2) == 0 ? .string(odd[r.next(odd.count)]) : .number(Double(r.next(1000)) / 8 - 40)
            values["list"] = .list([.int(Int64(r.next(9))), .string(odd[r.next(odd.count)]), .time(Int64(r.next(99_999_999_999)))])
            let ids = [Identifier("_uid", "c\(r.next(40))")] + (r.next(3) == 0 ? [Identifier("email", "\(odd[r.next(odd.count)])\(r.next(20))@x")] : [])
            _ = g.apply(MappedEvent(id: "e\(i)", stream: ["web", "crm \"x\""][r.next(2)], timeMs: 1_795_000_000_000 + Int64(r.next(100_000_000)),
                                    identifiers: ids, values: values))
        }
        #expect(g.profiles.count > 5)
        for profile in g.profiles.values {
            #expect(profile.jsonBytes(account: "acme \"co\"") == profile.json(account: "acme \"co\"").serializedBytes())
        }
    }
}

/// Profiles are kept encoded (`ProfileCodec`) by default; the encoding must give back exactly
/// the profile, and a graph must behave the same in either storage.
@Suite struct ProfileStorageTests {
    static func generatedGraph(seed: UInt64, storage: ProfileStore.Storage) -> IdentityGraph {
        let specs = FastPathEquivalenceTests.specs
        let schema = IdentitySchema(keys: [IdentityKey(field: "email", rank: 1), IdentityKey(field: "_uid", rank: 2, kind: .set, capacity: 3, onFull: .evictOldest),
                                           IdentityKey(field: "device", rank: 3, kind: .set, capacity: 2, onFull: .reject)],
                                    fields: specs.enumerated().map { FieldSpec(name: "f\($0.offset)", kind: $0.element.kind, mergeOp: $0.element.mergeOp) })
        var g = IdentityGraph(account: "acme", schema: schema, storage: storage)
        var r = FastPathEquivalenceTests.Rng(state: seed)
        let odd = ["plain", "quote \" \\", "ünïcødé ✓", "", "a much longer value than fifteen bytes", "\u{0}nul"]
        for i in 0..<400 {
            var values: [String: QLValue] = [:]
            for (n, spec) in specs.enumerated() where r.next(3) == 0 { values["f\(n)"] = FastPathEquivalenceTests.value(for: spec, &r) }
            values["free\(r.next(3))"] = [QLValue.string(odd[r.next(odd.count)]), .number(Double(r.next(1000)) / 8 - 40), .int(Int64.min + Int64(r.next(3))),
                                          .int(Int64.max - Int64(r.next(3))), .bool(r.next(2) == 0), .null, .time(-Int64(r.next(1_000_000)))][r.next(7)]
            values["nested"] = .list([.int(Int64(r.next(9))), .map(["k": .list([.string(odd[r.next(odd.count)]), .time(Int64(r.next(99)))])]), .strings(["x", "y"])])
            var ids = [Identifier("_uid", "c\(r.next(40))")]
            if r.next(3) == 0 { ids.append(Identifier("email", "\(odd[r.next(odd.count)])\(r.next(20))@x")) }
            if r.next(4) == 0 { ids.append(Identifier("device", "d\(r.next(30))")) }
            _ = g.apply(MappedEvent(id: "e\(i)", stream: ["web", "crm \"x\"", "app"][r.next(3)], timeMs: 1_795_000_000_000 + Int64(r.next(100_000_000)) - 50_000_000,
                                    identifiers: ids, values: values))
        }
        return g
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func encodingRoundTrips(seed: UInt64) {
        let g = Self.generatedGraph(seed: seed, storage: .decoded)
        #expect(g.profiles.count > 5)
        #expect(g.profiles.values.contains { !$0.conflicts.isEmpty || !$0.merged.isEmpty })
        for p in g.profiles.values {
            #expect(ProfileCodec.decode(id: p.id, ProfileCodec.encode(p)) == p)
        }
        // A scratch buffer too small for a profile grows, and the bytes are the same; a large one
        // left over from a bigger profile gives exact-size bytes too.
        let sizes = g.profiles.values.map { ProfileCodec.encode($0).count }
        for (p, size) in zip(g.profiles.values, sizes) {
            for start in [0, 1, size - 1, size, 4 * size] {
                var scratch = [UInt8](repeating: 0xAB, count: max(0, start))
                let bytes = ProfileCodec.encode(p, scratch: &scratch)
                #expect(bytes.count == size && ProfileCodec.decode(id: p.id, bytes) == p)
                #expect(scratch.count >= size)
            }
        }
    }

    @Test(arguments: [4, 5] as [UInt64])
    func compactAndDecodedGraphs_agree(seed: UInt64) {
        let compact = Self.generatedGraph(seed: seed, storage: .compact)
        let decoded = Self.generatedGraph(seed: seed, storage: .decoded)
        #expect(compact.profiles == decoded.profiles)
        #expect(compact.owner == decoded.owner)
        #expect(compact.profiles.count == decoded.profiles.count)
    }

    /// Decoding into an old profile's storage gives what a fresh decode gives, whatever the old
    /// profile held (more or fewer identities and fields, other kinds of value at the same
    /// positions, the empty profile), and so does a damaged buffer.
    @Test func decodingIntoOldStorage_equalsAFreshDecode() {
        let g = Self.generatedGraph(seed: 6, storage: .decoded)
        var profiles = g.profiles.values.sorted { $0.id < $1.id }
        profiles.append(Profile(id: "empty", createdMs: 5, updatedMs: 5))
        // Fields' streams are written as positions among the profile's first streams, else
        // spelled out: streams past those, and one the profile does not list.
        var manyStreams = Profile(id: "streams", createdMs: 7, updatedMs: 9)
        for i in 0..<(ProfileCodec.streamsReferred + 4) { manyStreams.noteStream("s\(100 + i)") }
        for (i, stream) in ["s100", "s\(100 + ProfileCodec.streamsReferred + 2)", "unlisted", "s101"].enumerated() {
            var state = FieldState(value: .int(Int64(i)), timeMs: 8)
            state.stream = stream
            state.changedAtMs = 8
            manyStreams.fields["f\(i)"] = state
        }
        profiles.append(manyStreams)
        #expect(profiles.count > 10)
        for p in profiles {
            let bytes = ProfileCodec.encode(p)
            for old in profiles {
                let reused = bytes.withUnsafeBufferPointer { ProfileCodec.decode(id: p.id, $0, reusing: old) }
                #expect(reused == p, "\(p.id) decoded into \(old.id)'s storage")
            }
        }
        var r = FastPathEquivalenceTests.Rng(state: 11)
        for p in profiles.prefix(8) {
            let bytes = ProfileCodec.encode(p)
            for _ in 0..<20 {
                var damaged = bytes
                damaged[r.next(damaged.count)] ^= UInt8(1 + r.next(255))
                let cut = Array(damaged.prefix(r.next(damaged.count + 1)))
                let fresh = ProfileCodec.decode(id: "p", cut)
                let reused = cut.withUnsafeBufferPointer { ProfileCodec.decode(id: "p", $0, reusing: profiles[r.next(profiles.count)]) }
                #expect(reused == fresh)
            }
        }
    }

    /// A damaged buffer decodes to something (never traps).
    @Test func damagedBuffers_decodeWithoutTrapping() {
        let g = Self.generatedGraph(seed: 9, storage: .decoded)
        let bytes = ProfileCodec.encode(g.profiles.values.max { $0.eventCount < $1.eventCount }!)
        var r = FastPathEquivalenceTests.Rng(state: 3)
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
            _ = ProfileCodec.decode(id: "p", Array(bytes.prefix(cut)))
            var flipped = bytes
            flipped[r.next(flipped.count)] ^= UInt8(1 + r.next(255))
            _ = ProfileCodec.decode(id: "p", flipped)
        }
        _ = ProfileCodec.decode(id: "p", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
    }
}

@Suite struct SeenEventsTests {
    /// The dedupe table behaves as a dictionary of fingerprint → time through growth and pruning.
    @Test func behavesAsADictionary() {
        var table = SeenEvents(minimumCapacity: 16)
        var reference: [UInt64: Int64] = [:]
        var r = FastPathEquivalenceTests.Rng(state: 11)
        for step in 0..<20_000 {
            let fp = r.next(5) == 0 ? UInt64(r.next(3)) : IdentityGraph.fingerprint("e\(r.next(6000))") // includes 0, 1 and 2
            if table[fp] != reference[fp == 0 ? 1 : fp] { Issue.record("lookup differs at step \(step)"); return }
            let t = Int64(step)
            table[fp] = t
            reference[fp == 0 ? 1 : fp] = t
            if step % 5000 == 4999 {
                table = table.keeping(from: t - 2000)
                reference = reference.filter { $0.value >= t - 2000 }
            }
        }
        #expect(table.count == reference.count)
        #expect(table.entries == reference)
    }
}
