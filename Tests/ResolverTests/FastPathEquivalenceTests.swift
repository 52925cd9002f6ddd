import IdentityCore
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

    /// `FieldMerge.update` (in place) equals `FieldMerge.apply` plus the change bookkeeping, for
    /// in-order, tied and late events.
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
                if var after = FieldMerge.apply(spec, reference, v, at: t) {
                    if after.value != reference.value {
                        after.stream = stream
                        after.changedAtMs = t
                    } else {
                        after.stream = reference.stream
                        after.changedAtMs = reference.changedAtMs
                    }
                    reference = after
                }
                #expect(fast == reference, "\(spec.kind) \(spec.mergeOp) seed \(seed) step \(step)")
                if fast != reference { return }
            }
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
