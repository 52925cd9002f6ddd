@testable import IdentityCore
import QL
import Testing

/// Collection fields keep at most `FieldMerge.maxEntries` entries, the most recently seen.
@Suite struct FieldCapTests {
    static let cap = FieldMerge.maxEntries

    /// Members 0..<n, member i seen at time 1000 + i, one event each, through `update`.
    /// (Yields now and then: a test holding one of the executor's threads for seconds stalls
    /// every task beside it.)
    static func grown(_ spec: FieldSpec, _ n: Int, value: (Int) -> QLValue) async -> FieldState {
        var state = FieldMerge.initial(spec, value(0), at: 1000, stream: "s")!
        for i in 1..<n {
            if i % 100 == 0 { await Task.yield() }
            FieldMerge.update(spec, &state, value(i), at: 1000 + Int64(i), stream: "s")
        }
        return state
    }

    @Test func sets_keepTheMostRecentlySeenMembers() async {
        let spec = FieldSpec(name: "urls", kind: "[]string", mergeOp: "merge")
        var state = await Self.grown(spec, Self.cap + 5) { .strings(["m\($0)"]) }
        guard case .strings(let members) = state.value else {
            Issue.record("not a set: \(state.value)")
            return
        }
        #expect(members.count == Self.cap && state.keyTimes.count == Self.cap)
        #expect(members.first == "m5" && members.last == "m\(Self.cap + 4)")
        // Seen again, an old member is the newest; the oldest remaining one goes.
        FieldMerge.update(spec, &state, .strings(["m0"]), at: 9_999_999, stream: "s")
        if case .strings(let after) = state.value { #expect(after.count == Self.cap && after.last == "m0" && !after.contains("m5")) }
    }

    @Test func maps_keepTheMostRecentKeys_andSumMapsTheLargestValues() async {
        let latest = FieldSpec(name: "seen", kind: "map[string]time", mergeOp: "latestmap")
        let state = await Self.grown(latest, Self.cap + 3) { .map(["k\($0)": .time(Int64($0))]) }
        if case .map(let m) = state.value {
            #expect(m.count == Self.cap && m["k0"] == nil && m["k2"] == nil && m["k3"] != nil && state.keyTimes.count == Self.cap)
        } else {
            Issue.record("not a map")
        }
        // `sum` keeps no per-key times: the largest counts stay. Key "hot" is counted often.
        let sum = FieldSpec(name: "counts", kind: "map[string]int", mergeOp: "sum")
        let counted = await Self.grown(sum, Self.cap + 50) { i in .map(["k\(i)": .int(1), "hot": .int(1)]) }
        if case .map(let m) = counted.value {
            #expect(m.count == Self.cap && m["hot"] == .int(Int64(Self.cap + 50)))
        } else {
            Issue.record("not a map")
        }
    }

    @Test func listedTimes_keepTheLatest() async {
        let spec = FieldSpec(name: "visits", kind: "[]time", mergeOp: "merge")
        let state = await Self.grown(spec, Self.cap + 2) { .time(1_795_000_000_000 + Int64($0) * 1000) }
        if case .list(let items) = state.value {
            #expect(items.count == Self.cap && !items.contains(.time(1_795_000_000_000)) && items.contains(.time(1_795_000_000_000 + Int64(Self.cap + 1) * 1000)))
        } else {
            Issue.record("not a list: \(state.value)")
        }
    }

    /// Profiles merge the same whichever comes first, and the in-place path gives what the plain
    /// definition gives, past the cap too.
    @Test func capping_keepsMergesOrderIndependent_andTheFastPathExact() async {
        let spec = FieldSpec(name: "urls", kind: "[]string", mergeOp: "merge")
        let a = await Self.grown(spec, Self.cap + 100) { .strings(["a\($0)", "shared\($0 % 50)"]) }
        var b = FieldMerge.initial(spec, .strings(["b0"]), at: 500, stream: "t")!
        for i in 1..<(Self.cap + 50) {
            if i % 100 == 0 { await Task.yield() }
            FieldMerge.update(spec, &b, .strings(["b\(i)", "shared\(i % 70)"]), at: 500 + Int64(i) * 2, stream: "t")
        }
        #expect(FieldMerge.combine(spec, a, b).value == FieldMerge.combine(spec, b, a).value)
        // Both paths from a set just under the cap, across it with new, repeated and late members.
        var fast = await Self.grown(spec, Self.cap - 20) { .strings(["v\($0)"]) }
        var plain = fast
        for i in 0..<60 {
            let t = i % 5 == 0 ? 1000 + Int64(i) * 3 : 5000 + Int64(i)
            let v: QLValue = .strings(["n\(i % 40)", "n\(i % 7)", "v\(i * 17 % 1_000)"])
            FieldMerge.update(spec, &fast, v, at: t, stream: "s")
            plain = FieldMerge.applyTracked(spec, plain, v, at: t, stream: "s")
            if fast != plain {
                Issue.record("paths differ after event \(i)")
                return
            }
        }
        if case .strings(let members) = fast.value { #expect(members.count == Self.cap) }
    }
}
