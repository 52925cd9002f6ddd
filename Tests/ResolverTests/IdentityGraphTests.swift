@testable import IdentityCore
import QL
import Resolver
import Testing

let hour: Int64 = 3_600_000
let dayMs: Int64 = 86_400_000

let webSchema = IdentitySchema(keys: [
    IdentityKey(field: "user_id", rank: 1),
    IdentityKey(field: "email", rank: 2),
    IdentityKey(field: "_uid", rank: 3, kind: .set, capacity: 3, onFull: .evictOldest),
    IdentityKey(field: "device", rank: 4, kind: .set, capacity: 2, onFull: .reject),
], fields: [FieldSpec(name: "name", kind: "string"), FieldSpec(name: "visits", kind: "int", mergeOp: "sum")])

func event(_ ids: [(String, String)], t: Int64, values: [String: QLValue] = [:], id: String? = nil) -> MappedEvent {
    // A distinct id per call unless one is given (so duplicates are only tested on purpose).
    MappedEvent(id: id ?? "e-\(t)-\(ids.map { "\($0.0)=\($0.1)" }.joined(separator: ","))-\(values.count)-\(UInt64.random(in: 0...UInt64.max))",
                stream: "web", timeMs: t, identifiers: ids.map { Identifier($0.0, $0.1) }, values: values)
}

func profileID(_ r: Resolution) -> String? {
    if case .applied(let p) = r.outcome { return p }
    return nil
}

@Suite struct IdentityRuleTests {
    @Test(arguments: [
        ([String](), []),
        (["web"], ["web"]),
        (["web", "web"], ["web"]),
        (["web", "app", "crm", "app"], ["app", "crm", "web"]),
        (["b", "a", "c", "a", "b"], ["a", "b", "c"]),
    ])
    func profileStreams_staySortedAndDistinct(noted: [String], expected: [String]) {
        var p = Profile(id: "p", createdMs: 0, updatedMs: 0)
        for s in noted { p.noteStream(s) }
        #expect(p.streams == expected)
    }

    @Test func anonymousCookie_thenEmailOnTheSameDevice_isOneProfile() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let a = profileID(g.apply(event([("_uid", "c1")], t: 1)))
        let b = profileID(g.apply(event([("_uid", "c1"), ("email", "ada@x.com")], t: 2)))
        #expect(a == b)
        #expect(g.profiles.count == 1)
        #expect(g.profile(for: Identifier("email", "ada@x.com"))?.identities["_uid"]?.map(\.value) == ["c1"])
    }

    @Test func twoCookies_linkedByAnEmail_merge_andTheOlderIdSurvives() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let older = profileID(g.apply(event([("_uid", "c1"), ("email", "ada@x.com")], t: 1)))!
        let newer = profileID(g.apply(event([("_uid", "c2")], t: 5)))!
        #expect(older != newer)
        let r = g.apply(event([("email", "ada@x.com"), ("_uid", "c2")], t: 6))
        #expect(profileID(r) == older)
        #expect(r.absorbed == [newer])
        #expect(g.profiles.count == 1)
        #expect(g.profiles[older]?.merged == [newer])
        #expect(g.mergesByKey["_uid"] == 1)
    }

    /// The docs' example: email A has cookies X, Y; email B has Z; an event with B and Y goes to
    /// B's profile, and Y stays with A.
    @Test func conflictingEmail_keepsCookieOnTheProfileThatHadIt() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let a = profileID(g.apply(event([("email", "a@x.com"), ("_uid", "X"), ("_uid", "Y")], t: 1)))!
        let b = profileID(g.apply(event([("email", "b@x.com"), ("_uid", "Z")], t: 2)))!
        let r = g.apply(event([("email", "b@x.com"), ("_uid", "Y")], t: 3))
        #expect(profileID(r) == b)
        #expect(r.conflicts == [Identifier("_uid", "Y")])
        #expect(g.profile(for: Identifier("_uid", "Y"))?.id == a)
        #expect(g.profiles[b]?.conflicts == [Identifier("_uid", "Y")])
        #expect(g.conflictsByKey["_uid"] == 1)
    }

    @Test func secondValueOfAStringKey_isAConflict() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let p = profileID(g.apply(event([("user_id", "u1"), ("email", "a@x.com")], t: 1)))!
        let r = g.apply(event([("user_id", "u2"), ("email", "a@x.com")], t: 2))
        #expect(profileID(r) != p)
        #expect(r.conflicts == [Identifier("email", "a@x.com")])
        #expect(g.profile(for: Identifier("email", "a@x.com"))?.id == p)
        // Attaching a second email to a profile that has one is refused too.
        let s = g.apply(event([("user_id", "u1"), ("email", "other@x.com")], t: 3))
        #expect(s.conflicts == [Identifier("email", "other@x.com")])
        #expect(g.profile(for: Identifier("email", "other@x.com")) == nil)
    }

    @Test func rejectSetKey_refusesPastCapacity_evictOldestReleasesTheOldest() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let p = profileID(g.apply(event([("email", "a@x.com"), ("device", "d1"), ("device", "d2")], t: 1)))!
        let r = g.apply(event([("email", "a@x.com"), ("device", "d3")], t: 2))
        #expect(r.conflicts == [Identifier("device", "d3")])
        // Cookies: capacity 3, the oldest sighting goes.
        _ = g.apply(event([("email", "a@x.com"), ("_uid", "c1")], t: 10))
        _ = g.apply(event([("email", "a@x.com"), ("_uid", "c2")], t: 11))
        _ = g.apply(event([("email", "a@x.com"), ("_uid", "c3")], t: 12))
        _ = g.apply(event([("email", "a@x.com"), ("_uid", "c1")], t: 13)) // c1 seen again: now the newest
        let e = g.apply(event([("email", "a@x.com"), ("_uid", "c4")], t: 14))
        #expect(e.released == [Identifier("_uid", "c2")])
        #expect(g.profiles[p]?.identities["_uid"]?.map(\.value) == ["c3", "c1", "c4"])
        #expect(g.profile(for: Identifier("_uid", "c2")) == nil)
    }

    @Test func maxIdentifiers_capsAProfile_notCountingEvictOldestKeys() {
        let schema = IdentitySchema(keys: [IdentityKey(field: "email", rank: 1, kind: .set, capacity: 10),
                                           IdentityKey(field: "_uid", rank: 2, kind: .set, capacity: 5, onFull: .evictOldest)], maxIdentifiers: 2)
        var g = IdentityGraph(account: "acme", schema: schema)
        let r = g.apply(event([("email", "a"), ("email", "b"), ("email", "c"), ("_uid", "1"), ("_uid", "2"), ("_uid", "3")], t: 1))
        #expect(r.conflicts == [Identifier("email", "c")])
        #expect(g.profile(for: Identifier("_uid", "3")) != nil)
    }

    @Test(arguments: ["", "null", "NULL", "undefined", "anonymous", "-1", "0000", "----", "00:00:00:00", " null ", "\tNone", "\u{00A0}undefined\u{00A0}", "  "])
    func blockedValues_identifyNobody(value: String) {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        #expect(g.apply(event([("email", value)], t: 1)).outcome == .noIdentifier)
        #expect(g.eventsWithoutIdentity == 1)
        #expect(g.profiles.isEmpty)
    }

    @Test func duplicateEventIds_applyOnceWithinTheWindow() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        _ = g.apply(event([("_uid", "c1")], t: 1, values: ["visits": .int(1)], id: "same"))
        #expect(g.apply(event([("_uid", "c1")], t: 1, values: ["visits": .int(1)], id: "same")).outcome == .duplicate)
        _ = g.apply(event([("_uid", "c1")], t: 2 * dayMs, values: ["visits": .int(1)], id: "same"))
        #expect(g.profile(for: Identifier("_uid", "c1"))?.fields["visits"]?.value == .int(2))
    }

    /// Field specs remembered by position from event to event give what a lookup per field
    /// gives: with other names at the same positions, undeclared fields in between, and the
    /// schema changed (replaced, or a field's merge operator changed in place) between events.
    @Test func fieldSpecsByPosition_equalALookupPerField() {
        var remembered = IdentityGraph(account: "acme", schema: webSchema)
        var lookedUp = IdentityGraph(account: "acme", schema: webSchema)
        let shapes: [[String: QLValue]] = [["name": .string("a"), "visits": .int(2)], ["visits": .int(3)], ["other": .int(7), "visits": .int(1)],
                                           ["name": .string("b"), "other": .string("x"), "visits": .int(5)], ["aaa": .int(1), "name": .string("c")]]
        for i in 0..<40 {
            if i == 15 { remembered.schema.fields["visits"] = FieldSpec(name: "visits", kind: "int", mergeOp: "max") }
            if i == 15 { lookedUp.schema.fields["visits"] = FieldSpec(name: "visits", kind: "int", mergeOp: "max") }
            if i == 28 {
                let replaced = IdentitySchema(keys: webSchema.keys, fields: [FieldSpec(name: "visits", kind: "int", mergeOp: "sum"), FieldSpec(name: "other", kind: "int", mergeOp: "sum")])
                remembered.schema = replaced
                lookedUp.schema = replaced
            }
            // The same shape on both sides of each schema change (the remembered specs are used).
            let shape = (10..<20).contains(i) ? 0 : (24..<34).contains(i) ? 2 : i % shapes.count
            let e = event([("_uid", "c\(i % 3)")], t: Int64(i), values: shapes[shape], id: "e\(i)")
            _ = remembered.apply(e)
            lookedUp.forgetFieldSpecs() // one lookup per field
            _ = lookedUp.apply(e)
        }
        #expect(remembered.profiles == lookedUp.profiles)
        #expect(remembered.profile(for: Identifier("_uid", "c0"))?.fields["visits"] != nil)
    }

    @Test func lateEvents_doNotOverwriteANewerLatest() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        _ = g.apply(event([("_uid", "c1")], t: 10, values: ["name": .string("new")]))
        _ = g.apply(event([("_uid", "c1")], t: 5, values: ["name": .string("old")]))
        #expect(g.profile(for: Identifier("_uid", "c1"))?.fields["name"]?.value == .string("new"))
    }

    @Test func mergesOfMerges_keepTheOldestId_andListEveryAbsorbedProfile() {
        var g = IdentityGraph(account: "acme", schema: webSchema)
        let p1 = profileID(g.apply(event([("_uid", "a")], t: 1)))!
        let p2 = profileID(g.apply(event([("_uid", "b")], t: 2)))!
        let p3 = profileID(g.apply(event([("device", "d")], t: 3)))!
        _ = g.apply(event([("email", "e@x.com"), ("_uid", "b"), ("device", "d")], t: 4)) // p2 + p3
        let r = g.apply(event([("email", "e@x.com"), ("_uid", "a")], t: 5))                // + p1
        #expect(profileID(r) == p1)
        #expect(g.profiles.count == 1)
        #expect(Set(g.profiles[p1]!.merged) == [p2, p3])
        #expect(g.profiles[p1]!.eventCount == 5)
    }

    @Test func ttl_releasesIdentifiersNotSeenForThatLong() {
        let schema = IdentitySchema(keys: [IdentityKey(field: "email", rank: 1), IdentityKey(field: "device", rank: 2, kind: .set, capacity: 5, ttlDays: 1)])
        var g = IdentityGraph(account: "acme", schema: schema)
        let p = profileID(g.apply(event([("email", "a@x.com"), ("device", "d1")], t: 0)))!
        let r = g.apply(event([("email", "b@x.com"), ("device", "d1")], t: 2 * dayMs))
        #expect(r.released == [Identifier("device", "d1")])
        #expect(profileID(r) != p)
        #expect(g.profile(for: Identifier("device", "d1"))?.id == profileID(r))
        #expect(g.profiles[p]?.identities["device"]?.isEmpty == true)
    }

    @Test func sameEvents_sameState() {
        let events = (0..<200).map { i in event([("_uid", "c\(i % 37)"), ("email", i % 5 == 0 ? "u\(i % 11)@x.com" : "")], t: Int64(i) * hour, values: ["visits": .int(1)]) }
        var a = IdentityGraph(account: "acme", schema: webSchema)
        var b = IdentityGraph(account: "acme", schema: webSchema)
        for e in events { _ = a.apply(e) }
        for e in events { _ = b.apply(e) }
        #expect(a.profiles == b.profiles)
        #expect(a.owner == b.owner)
    }
}

@Suite struct ConnectedComponentsPropertyTests {
    /// With no conflict possible (set keys only, capacities never reached), profiles are exactly
    /// the connected components of the identifiers that appeared together.
    @Test(arguments: [1, 2, 3, 4, 5])
    func profilesAreTheConnectedComponents(seed: UInt64) {
        let schema = IdentitySchema(keys: [IdentityKey(field: "a", rank: 1, kind: .set, capacity: 10_000), IdentityKey(field: "b", rank: 2, kind: .set, capacity: 10_000)],
                                    maxIdentifiers: 100_000)
        var g = IdentityGraph(account: "acme", schema: schema)
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var parent: [Identifier: Identifier] = [:]
        func find(_ x: Identifier) -> Identifier {
            var x = x
            while let p = parent[x], p != x { x = p }
            return x
        }
        for i in 0..<400 {
            let count = 1 + next(3)
            let ids = (0..<count).map { _ in Identifier(next(2) == 0 ? "a" : "b", "v\(next(150))") }
            for id in ids where parent[id] == nil { parent[id] = id }
            for id in ids.dropFirst() { parent[find(id)] = find(ids[0]) }
            _ = g.apply(MappedEvent(id: "e\(i)", stream: "s", timeMs: Int64(i), identifiers: ids, values: [:]))
        }
        // Same partition: two identifiers share a profile iff they share a component.
        let all = Array(parent.keys)
        for x in all.prefix(60) {
            for y in all.prefix(60) {
                #expect((g.owner[x] == g.owner[y]) == (find(x) == find(y)))
            }
        }
        #expect(g.profiles.count == Set(all.map(find)).count)
    }
}

@Suite struct MergeOperatorTests {
    static let cases: [(String, String, [(QLValue, Int64)], QLValue)] = [
        ("int", "latest", [(.int(1), 1), (.int(3), 3), (.int(2), 2)], .int(3)),
        ("int", "oldest", [(.int(1), 5), (.int(3), 3), (.int(2), 9)], .int(3)),
        ("number", "min", [(.number(5), 1), (.number(2), 2), (.number(9), 3)], .number(2)),
        ("number", "max", [(.number(5), 1), (.number(2), 2), (.number(9), 3)], .number(9)),
        ("int", "sum", [(.int(1), 1), (.int(2), 2), (.int(3), 3)], .int(6)),
        ("date", "max", [(.time(10), 1), (.time(30), 2), (.time(20), 3)], .time(30)),
        ("[]string", "merge", [(.strings(["a"]), 1), (.strings(["b"]), 2)], .strings(["a", "b"])),
        ("[]string", "merge", [(.strings(["a", "b"]), 1), (.strings(["a"]), 2)], .strings(["b", "a"])),   // ordered by last sighting
        ("[]string", "latest", [(.strings(["a"]), 1), (.strings(["b"]), 2)], .strings(["b"])),
        ("map[string]int", "sum", [(.map(["x": .int(1)]), 1), (.map(["x": .int(2), "y": .int(1)]), 2)], .map(["x": .int(3), "y": .int(1)])),
        ("map[string]string", "latestmap", [(.map(["k": .string("new")]), 5), (.map(["k": .string("old"), "j": .string("j")]), 1)], .map(["k": .string("new"), "j": .string("j")])),
        ("map[string]string", "oldestmap", [(.map(["k": .string("new")]), 5), (.map(["k": .string("old")]), 1)], .map(["k": .string("old")])),
        ("map[string]int", "mapmin", [(.map(["k": .int(5)]), 1), (.map(["k": .int(3)]), 2), (.map(["k": .int(4)]), 3)], .map(["k": .int(3)])),
        ("map[string]int", "mapmax", [(.map(["k": .int(5)]), 1), (.map(["k": .int(7)]), 2), (.map(["k": .int(4)]), 3)], .map(["k": .int(7)])),
        ("string", "latest", [(.int(5), 1)], .string("5")),
    ]

    @Test(arguments: cases)
    func mergeOps(kind: String, op: String, inputs: [(QLValue, Int64)], expected: QLValue) {
        let spec = FieldSpec(name: "f", kind: kind, mergeOp: op)
        var state: FieldState?
        for (value, t) in inputs { state = FieldMerge.apply(spec, state, value, at: t) }
        #expect(state?.value == expected, "\(kind) \(op)")
    }
}
