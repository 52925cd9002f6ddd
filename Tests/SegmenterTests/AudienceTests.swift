import QL
import Runtime
import SegmentCore
import Testing

let now: Int64 = 1_795_953_600_000
let day: Int64 = 86_400_000

func defs(_ pairs: [(String, String)]) -> [AudienceSet.Definition] {
    pairs.map { AudienceSet.Definition(id: $0.0, slug: $0.0, filterQL: $0.1) }
}

@Suite struct AudienceSetTests {
    @Test func evaluatesEveryOperatorFamily_withBuiltIns() throws {
        let set = try AudienceSet(defs([
            ("us", "FILTER country == \"US\""),
            ("engaged", "FILTER AND (visits >= 5, score BETWEEN 10 AND 90)"),
            ("gmail", "FILTER email LIKE \"*@gmail.com\""),
            ("buyers", "FILTER purchases IN (\"SKU-1\")"),
            ("email_or_sms", "FILTER channels INTERSECTS (\"email\", \"sms\")"),
            ("recent", "FILTER last_visit > \"now-7d\""),
            ("us_engaged", "FILTER AND (INCLUDE us, INCLUDE engaged, NOT INCLUDE recent)"),
        ]))
        let profile: [String: QLValue] = ["country": .string("US"), "visits": .int(7), "score": .number(50), "email": .string("a@gmail.com"),
                                          "purchases": .map(["SKU-1": .int(1)]), "channels": .strings(["sms"]), "last_visit": .time(now - 10 * day)]
        let (members, flip) = set.evaluate(profile, nowMs: now)
        #expect(members == ["us", "engaged", "gmail", "buyers", "email_or_sms", "us_engaged", "all_users", "known_users"])
        #expect(flip == nil) // last_visit is already outside the window: time alone cannot bring it back
        let anonymous = set.evaluate(["last_visit": .time(now - day)], nowMs: now)
        #expect(anonymous.members == ["recent", "all_users", "anonymous_users"])
        #expect(anonymous.nextFlipMs == now + 6 * day)
    }

    static let invalidSets: [([(String, String)], String)] = [
        ([("a", "FILTER INCLUDE b"), ("b", "FILTER INCLUDE a")], "INCLUDE cycle"),
        ([("a", "FILTER INCLUDE nope")], "INCLUDE nope: no such filter"),
        ([("a", "FILTER x =="), ], "expected an expression"),
        ([("a", "FILTER x > 1"), ("a", "FILTER x > 2")], "slug 'a' is used twice"),
    ]

    @Test(arguments: invalidSets)
    func invalidSets_areRefused(pairs: [(String, String)], fragment: String) {
        #expect { try AudienceSet(defs(pairs)) } throws: { ($0 as? AudienceError)?.message.contains(fragment) == true }
    }

    @Test func moreThanAThousandFieldValues_isRefusedWithLyticsMessage() {
        let values = (0..<1001).map { "\"v\($0)\"" }.joined(separator: ",")
        #expect { try AudienceSet(defs([("big", "FILTER x IN (\(values))")])) } throws: {
            ($0 as? AudienceError)?.message.contains("Audience too large! Remove values to save this audience") == true
        }
    }

    @Test func dependents_followIncludeChains() throws {
        let set = try AudienceSet(defs([("base", "FILTER x > 1"), ("mid", "FILTER INCLUDE base"), ("top", "FILTER INCLUDE mid"), ("other", "FILTER y > 1")]))
        #expect(set.dependents(of: "base") == ["mid", "top"])
        #expect(set.dependents(of: "other").isEmpty)
    }
}

@Suite struct MembershipTests {
    @Test func transitions_staleVersions_andRemoval() {
        var m = Memberships()
        #expect(m.update(profile: "p1", version: 1, audiences: ["a", "b"], atMs: 10).map { "\($0.action.rawValue) \($0.audience)" } == ["enter a", "enter b"])
        #expect(m.update(profile: "p1", version: 2, audiences: ["b", "c"], atMs: 20).map { "\($0.action.rawValue) \($0.audience)" } == ["exit a", "enter c"])
        #expect(m.update(profile: "p1", version: 1, audiences: ["x"], atMs: 30).isEmpty) // stale version
        #expect(m.update(profile: "p1", version: 2, audiences: ["b", "c"], atMs: 30).isEmpty) // repeated
        #expect(m.size(of: "b") == 1 && m.members(of: "c") == ["p1"])
        #expect(m.remove(profile: "p1", version: 3, atMs: 40).map { "\($0.action.rawValue) \($0.audience)" } == ["exit b", "exit c"])
        #expect(m.size(of: "b") == 0)
    }

    @Test func flipQueue_returnsDueProfilesOnce_andRescheduleReplaces() {
        var q = FlipQueue()
        q.schedule("a", at: 30)
        q.schedule("b", at: 10)
        q.schedule("c", at: 20)
        q.schedule("c", at: 50) // replaces 20
        #expect(q.due(5).isEmpty)
        #expect(q.due(30) == ["b", "a"])
        #expect(q.nextDueMs == 50)
        #expect(q.due(100) == ["c"])
        #expect(q.count == 0)
    }

    /// Time moves; a time-window audience is entered and exited exactly at its flip times.
    @Test func timeWindowAudience_entersAndExitsOnTime() throws {
        let set = try AudienceSet(defs([("recent", "FILTER last_visit > \"now-3d\"")]), includeBuiltIns: false)
        var m = Memberships()
        var q = FlipQueue()
        let visit = now
        var clock = now
        let (first, flip) = set.evaluate(["last_visit": .time(visit)], nowMs: clock)
        #expect(m.update(profile: "p", version: 1, audiences: first, atMs: clock).map(\.action) == [.enter])
        q.schedule("p", at: flip)
        clock = visit + 3 * day - 1
        #expect(q.due(clock).isEmpty)
        clock = visit + 3 * day
        #expect(q.due(clock) == ["p"])
        let (later, _) = set.evaluate(["last_visit": .time(visit)], nowMs: clock)
        #expect(m.update(profile: "p", version: 1, audiences: later, atMs: clock, force: true).map(\.action) == [.exit])
    }
}

@Suite struct RuleTreeTests {
    @Test func compilesToFilterQLThatParses() throws {
        let tree: JSONValue = ["op": "and", "rulesets": [
            ["op": "or", "rules": [
                ["kind": "field", "field": "country", "operator": "in", "values": ["US", "CA"]],
                ["kind": "field", "field": "utm source", "operator": "==", "value": "news\"letter"],
            ]],
            ["include": false, "rules": [["kind": "audience", "slug": "churned"]]],
            ["rules": [["kind": "field", "field": "score", "operator": "between", "values": [10, 90]],
                       ["kind": "field", "field": "last_visit", "operator": ">", "value": "now-7d"],
                       ["kind": "field", "field": "email", "operator": "exists", "include": false]]],
        ]]
        let text = try RuleTree.filterQL(tree)
        #expect(text == #"FILTER AND(OR(country IN ("US", "CA"), `utm source` == "news\"letter"), NOT (INCLUDE churned), AND(score BETWEEN 10 AND 90, last_visit > "now-7d", NOT (EXISTS email)))"#)
        _ = try QLParser.parseFilter(text)
    }

    static let invalid: [(JSONValue, String)] = [
        (JSONValue.object([:]), "a rule tree needs a non-empty \"rulesets\" list"),
        (["rulesets": [["rules": [["kind": "field", "field": "x", "operator": "~", "value": 1]]]]], "rulesets[0].rules[0]: operator must be one of"),
        (["rulesets": [["rules": [["kind": "field", "field": "x", "operator": "between", "values": [1]]]]]], "rulesets[0].rules[0]: between needs two values"),
        (["rulesets": [["rules": [["kind": "thing"]]]]], "rulesets[0].rules[0]: kind must be field or audience"),
    ]

    @Test(arguments: invalid)
    func invalidTrees(tree: JSONValue, fragment: String) {
        #expect { try RuleTree.filterQL(tree) } throws: { ($0 as? AudienceError)?.message.hasPrefix(fragment) == true }
    }
}

@Suite struct SizeHistoryTests {
    @Test func hourlyDailyAndPointInTimeSizes() {
        var h = SizeHistory()
        let t0: Int64 = 1_795_910_400_000 // a midnight
        h.record(.enter, atMs: t0 + 10)
        h.record(.enter, atMs: t0 + 20)
        h.record(.enter, atMs: t0 + 3_600_000 + 5)
        h.record(.exit, atMs: t0 + 86_400_000 + 1)
        #expect(h.hourly.map(\.size) == [2, 3, 2])
        #expect(h.daily.map(\.size) == [3, 2])
        #expect(h.size(at: t0 + 60_000) == 2)
        #expect(h.size(at: t0 + 2 * 86_400_000) == 2)
    }
}

/// The membership record written directly equals serialising the JSON object it stands for.
struct MembershipRecordTests {
    @Test(arguments: [
        (Set<String>(), [Transition]()),
        (Set(["s1"]), [Transition(action: .enter, audience: "s1", profile: "p", version: 3, atMs: 1_795_946_400_123)]),
        (Set(["b", "a \"quoted\"", "ü\n"]), [Transition(action: .exit, audience: "c", profile: "p", version: 9, atMs: 0),
                                              Transition(action: .enter, audience: "a \"quoted\"", profile: "p", version: 10, atMs: -1)]),
    ])
    func directBytes_equalTheJSONTree(current: Set<String>, transitions: [Transition]) {
        let tree: JSONValue = [
            "v": 1, "aid": "acme \"co\"", "profile": "p_1", "version": .int(Int64.max),
            "segments": .array(current.sorted().map(JSONValue.string)),
            "transitions": .array(transitions.map { ["action": .string($0.action.rawValue), "segment": .string($0.audience),
                                                     "version": .int($0.version), "ts": .string(Timestamp.rfc3339Millis(epochMs: $0.atMs))] }),
        ]
        #expect(MembershipRecord.value(account: "acme \"co\"", profile: "p_1", version: Int64.max, current: current, transitions: transitions) == tree.serializedBytes())
    }
}
