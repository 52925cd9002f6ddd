import IdentityCore
import Model
import QL
import Resolver
import Runtime
import Testing

func rawEvent(_ stream: String, _ data: JSONValue, ts: Int64 = 1_795_000_000_000, id: String = "e1") -> EventRecord {
    EventRecord(account: "acme", stream: stream, id: id, timestampMs: ts, data: data.objectValue ?? [:])
}

@Suite struct EventMapperTests {
    @Test func defaultWebMapping_mapsIdentitiesAndFields() throws {
        let schema = AccountSchema.defaultSchema()
        guard case .success(let m) = EventMapper.map(rawEvent("web", ["_uid": "c1", "email": "Ada <ADA@X.com>", "url": "https://x.com/Pricing?a=1"]), schema: schema) else {
            Issue.record("mapping failed")
            return
        }
        #expect(Set(m.identifiers) == [Identifier("_uid", "c1"), Identifier("email", "ada@x.com")])
        #expect(m.values["urls"] == .strings(["/pricing"]))
        #expect(m.values["visitct"] == .int(1))
        #expect(m.values["last_visit"] == .time(1_795_000_000_000))
        #expect(m.values["last_channel_activities"] == .map(["web": .time(1_795_000_000_000)]))
    }

    /// Messages from Segment's API (kept as sent on stream `segment`, which has no mapping)
    /// resolve out of the box: userId, anonymousId and the traits' email are identities, traits
    /// are fields; a top-level field of the same name wins over a trait.
    /// Values that identify nobody yield no identifier: text that is no email address (in a
    /// stream without a mapping, as in the web mapping's email()), and maps.
    static let junkCases: [(String, JSONValue, [String])] = [
        ("crm", ["email": "n/a"], []),
        ("crm", ["email": .double(12.5)], []),
        ("crm", ["email": "Ada <ADA@x.com>"], ["email=ada@x.com"]),
        ("web", ["email": "n/a", "url": "/a"], []),
        ("web", ["_uid": ["x": 1], "url": "/a"], []),
        ("crm", ["_uid": .array([["x": 1], "c1", .null])], ["_uid=c1"]),
    ]

    @Test(arguments: junkCases)
    func junkIdentityValues_identifyNobody(stream: String, data: JSONValue, identities: [String]) {
        guard case .success(let m) = EventMapper.map(rawEvent(stream, data), schema: AccountSchema.defaultSchema()) else {
            Issue.record("mapping failed")
            return
        }
        #expect(m.identifiers.map(\.description) == identities)
    }

    static let segmentCases: [(JSONValue, [String], [String: QLValue])] = [
        (["type": "identify", "userId": "u1", "anonymousId": "a1", "traits": ["email": "Ada@X.com", "plan": "pro", "seats": 3]],
         ["user_id=u1", "_uid=a1", "email=ada@x.com"], ["type": .string("identify"), "plan": .string("pro"), "seats": .int(3)]),
        (["type": "track", "anonymousId": "a2", "event": "Clicked", "context": ["traits": ["email": "b@x.com", "plan": "team"]], "properties": ["price": 5]],
         ["_uid=a2", "email=b@x.com"], ["type": .string("track"), "event": .string("Clicked"), "plan": .string("team")]),
        (["userId": "u3", "user_id": "u9", "plan": "free", "traits": ["plan": "pro"], "context": ["traits": ["plan": "team", "tier": "gold"]]],
         ["user_id=u9"], ["plan": .string("free"), "tier": .string("gold")]),
        (["type": "page", "anonymousId": "", "userId": "null"], [], ["type": .string("page")]),
        (["type": "alias", "userId": "u5", "previousId": "anon-5"], ["user_id=u5", "_uid=anon-5"], ["type": .string("alias")]),
    ]

    @Test(arguments: segmentCases)
    func segmentMessages_resolveWithoutAMapping(data: JSONValue, identities: [String], fields: [String: QLValue]) throws {
        guard case .success(let m) = EventMapper.map(rawEvent("segment", data), schema: AccountSchema.defaultSchema()) else {
            Issue.record("mapping failed")
            return
        }
        // Blocked values ("", "null") are dropped by the graph, not by the mapping.
        #expect(Set(m.identifiers.map(\.description)).subtracting(["_uid=", "user_id=null"]) == Set(identities))
        #expect(m.values == fields)
    }

    /// One scratch reused over events of different streams and schemas (as a resolver thread
    /// does) maps each event exactly as a fresh mapping would.
    @Test func reusedScratch_mapsLikeAFreshOne() throws {
        let other = try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1)]), mappingText: """
        SELECT email, match("utm_") AS utm KIND map[string]string MERGEOP latestmap, toint(n) AS n FROM ads INTO user BY email ALIAS ads;
        SELECT email, toint(amount) AS total KIND int MERGEOP sum FROM shop INTO user BY email WHERE NOT EXISTS _bot ALIAS shop
        """)
        let events: [(EventRecord, AccountSchema)] = [
            (rawEvent("web", ["_uid": "c1", "email": "Ada <ADA@X.com>", "url": "https://x.com/Pricing?a=1"]), .defaultSchema()),
            (rawEvent("ads", ["email": "a@x.com", "utm_source": "news", "n": "7"]), other),
            (rawEvent("web", ["_uid": "c2"], ts: 1_795_000_100_000), .defaultSchema()),
            (rawEvent("shop", ["email": "a@x.com", "_bot": true]), other),
            (rawEvent("shop", ["email": "b@x.com", "amount": 3]), other),
            (rawEvent("crm", ["email": "B@Y.com", "plan": "pro"]), .defaultSchema()),
            (rawEvent("web", ["user_id": "u9", "url": "/a/b"]), .defaultSchema()),
            (rawEvent("ads", ["email": "c@x.com"]), other),
        ]
        let scratch = EventMapper.Scratch()
        var mapped = 0
        for round in 0..<3 {
            for (i, (event, schema)) in events.enumerated() {
                let reused = EventMapper.map(event, schema: schema, scratch: scratch)
                #expect(reused == EventMapper.map(event, schema: schema), "round \(round) event \(i)")
                if case .success = reused { mapped += 1 }
            }
        }
        #expect(mapped == 3 * 7) // all but the filtered one
    }

    @Test func unmappedStreams_useIdentityNamesAndKeepScalars() throws {
        guard case .success(let m) = EventMapper.map(rawEvent("crm", ["email": "B@Y.com", "plan": "pro", "seats": 5, "tags": ["a"]]), schema: .defaultSchema()) else {
            Issue.record("mapping failed")
            return
        }
        #expect(m.identifiers == [Identifier("email", "b@y.com")])
        #expect(m.values == ["plan": .string("pro"), "seats": .int(5)])
    }

    @Test func whereDropsEvents_andIfGuardsColumns() throws {
        let schema = try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1)]), mappingText: """
        SELECT email, toint(amount) AS first_order IF event == "order" KIND int MERGEOP oldest
        FROM shop INTO user BY email WHERE NOT EXISTS _bot ALIAS shop;
        SELECT email, plan FROM crm INTO user BY email ALIAS crm
        """)
        #expect(EventMapper.map(rawEvent("shop", ["email": "a@x.com", "_bot": true]), schema: schema) == .failure(.filtered))
        guard case .success(let view) = EventMapper.map(rawEvent("shop", ["email": "a@x.com", "event": "view", "amount": "9"]), schema: schema),
              case .success(let order) = EventMapper.map(rawEvent("shop", ["email": "a@x.com", "event": "order", "amount": "12"]), schema: schema) else {
            Issue.record("mapping failed")
            return
        }
        #expect(view.values["first_order"] == nil)
        #expect(order.values["first_order"] == .int(12))
        #expect(schema.identity.fields["first_order"]?.mergeOp == "oldest")
        #expect(schema.mappings.keys.sorted() == ["crm", "shop"])
    }

    @Test func compiledMappings_readOnlyTheirFields_unlessMatchReadsTheWholeRecord() throws {
        let schema = try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1)]), mappingText: """
        SELECT email, match("utm_") AS utm KIND map[string]string MERGEOP latestmap, campaign.name AS campaign, toint(n) AS n
        FROM ads INTO user BY email ALIAS ads
        """)
        #expect(schema.programs["ads"]?.first??.readsWholeRecord == true)
        #expect(AccountSchema.defaultSchema().programs["web"]?.first??.readsWholeRecord == false)
        let event = rawEvent("ads", ["email": "a@x.com", "utm_source": "news", "utm_medium": "mail", "other": 1,
                                     "campaign": ["name": "spring"], "n": "7", "bad": ["$time": "not a time"]])
        guard case .success(let m) = EventMapper.map(event, schema: schema) else {
            Issue.record("mapping failed")
            return
        }
        #expect(m.values["utm"] == .map(["source": .string("news"), "medium": .string("mail")]))
        #expect(m.values["campaign"] == .string("spring"))
        #expect(m.values["n"] == .int(7))
        // The same statement in the interpreter gives the same row.
        let statement = try #require(schema.mappings["ads"]?.first)
        let row = QLEvaluator.select(statement, QLContext(fields: EventMapper.fields(event.data), messageTimeMs: event.timestampMs, nowMs: event.timestampMs))
        #expect(row?["utm"] == m.values["utm"] && row?["campaign"] == m.values["campaign"] && row?["n"] == m.values["n"])
    }

    @Test func repeatedColumnNames_andSeveralStatements_keepTheLastValue() throws {
        let schema = try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1), IdentityKey(field: "uid", rank: 2)]), mappingText: """
        SELECT email, plan, "first" AS tier, "second" AS tier FROM app INTO user BY email ALIAS a;
        SELECT uid, "third" AS tier, seats FROM app INTO user BY uid ALIAS b;
        SELECT email, "solo" AS tier, "again" AS tier FROM solo INTO user BY email ALIAS s
        """)
        #expect(schema.programs["app"]?.first??.hasRepeatedNames == true)
        #expect(schema.programs["app"]?.last??.hasRepeatedNames == false)
        guard case .success(let app) = EventMapper.map(rawEvent("app", ["email": "a@x.com", "uid": "u1", "plan": "pro", "seats": 3]), schema: schema),
              case .success(let solo) = EventMapper.map(rawEvent("solo", ["email": "a@x.com"]), schema: schema) else {
            Issue.record("mapping failed")
            return
        }
        #expect(Set(app.identifiers) == [Identifier("email", "a@x.com"), Identifier("uid", "u1")])
        #expect(app.values == ["plan": .string("pro"), "tier": .string("third"), "seats": .int(3)])
        #expect(app.fields.count == 3) // one value per name
        #expect(solo.values == ["tier": .string("again")] && solo.fields.count == 1)
    }

    @Test(arguments: [
        (#"{"identity_keys":[]}"#, "identity_keys must be a non-empty list"),
        (#"{"identity_keys":[{"field":"email","rank":0}]}"#, "identity_keys[0].rank must be an integer ≥ 1"),
        (#"{"identity_keys":[{"field":"x","rank":1,"kind":"bag"}]}"#, "identity_keys[0].kind must be string or set"),
        (#"{"fields":[{"name":"n","kind":"string","merge_op":"sum"}]}"#, "fields[0]: merge_op sum does not suit kind string"),
        (#"{"mappings":"SELECT a FROM"}"#, "mappings: line 1, column 14: expected a stream name after FROM, found the end of the text"),
        (#"{"mappings":"SELECT name KIND string MERGEOP max FROM web"}"#, "field name: MERGEOP max does not suit KIND string"),
    ])
    func schemaValidation_pointsAtTheProblem(text: String, message: String) throws {
        #expect { try AccountSchema.parse(try JSONParser().parse(text)) } throws: { ($0 as? AccountSchema.ValidationError)?.description == message }
    }

    @Test func mappedEvents_resolveIntoOneStitchedProfile() throws {
        let schema = AccountSchema.defaultSchema()
        var graph = IdentityGraph(account: "acme", schema: schema.identity)
        let events = [
            rawEvent("web", ["_uid": "c1", "url": "/pricing"], ts: 1_000, id: "1"),
            rawEvent("web", ["_uid": "c2", "url": "/docs"], ts: 2_000, id: "2"),
            rawEvent("web", ["_uid": "c2", "email": "ada@x.com", "url": "/signup"], ts: 3_000, id: "3"),
            rawEvent("web", ["_uid": "c1", "email": "ada@x.com"], ts: 4_000, id: "4"),
        ]
        for e in events {
            guard case .success(let m) = EventMapper.map(e, schema: schema) else { continue }
            _ = graph.apply(m)
        }
        #expect(graph.profiles.count == 1)
        let p = graph.profiles.values.first!
        #expect(Set(p.identities["_uid"]!.map(\.value)) == ["c1", "c2"])
        #expect(p.fields["visitct"]?.value == .int(4))
        #expect(p.fields["urls"]?.value == .strings(["/pricing", "/docs", "/signup"]))
        #expect(p.fields["first_visit"]?.value == .time(1_000))
        #expect(p.fields["last_visit"]?.value == .time(4_000))
    }
}

/// The compiled mappings give exactly the interpreter's rows (the resolver runs the compiled ones).
@Suite struct CompiledMappingTests {
    static let customMapping = """
    SELECT email(email) AS email, user_id, toint(amount) AS first_order IF event == "order" KIND int MERGEOP oldest,
           set(path(url)) AS pages, count(event) AS events, valuect(hourofweek()) AS hourly,
           map(event, now()) AS last_events, plan IF EXISTS plan, set("shop") AS channels, match("utm_") AS utm
    FROM shop INTO user BY email WHERE NOT EXISTS _bot ALIAS shop
    """

    @Test func compiledRowsEqualInterpretedRows_overGeneratedEvents() throws {
        let schemas = [AccountSchema.defaultSchema(),
                       try AccountSchema(identity: IdentitySchema(keys: [IdentityKey(field: "email", rank: 1), IdentityKey(field: "user_id", rank: 2)]),
                                         mappingText: Self.customMapping)]
        var state: UInt64 = 42
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let pick: [[JSONValue]] = [
            ["a@x.com", "Ada <ADA@X.com>", "", .null, 5],
            ["https://shop.example/pricing?x=1", "http://a.b/c/d", "not a url", .null],
            ["order", "view", .null],
            ["12", "x", 7, .null],
            ["2026-01-02", "yesterday", .null],
            ["US", "fr", .null],
        ]
        var compared = 0
        for schema in schemas {
            for (stream, statements) in schema.mappings {
                for (i, statement) in statements.enumerated() {
                    let program = try #require(schema.programs[stream]?[i] ?? nil, "every mapping here compiles")
                    for n in 0..<300 {
                        var data: [String: JSONValue] = [:]
                        for (k, options) in zip(["email", "url", "event", "amount", "signup", "country"], pick) where next(4) > 0 {
                            data[k] = options[next(options.count)]
                        }
                        if next(5) == 0 { data["_bot"] = true }
                        if next(3) == 0 { data["_uid"] = .string("c\(next(10))") }
                        if next(3) == 0 { data["plan"] = "pro" }
                        if next(3) == 0 { data["utm_source"] = "news"; data["utm_medium"] = .int(Int64(next(3))) }
                        let ts: Int64 = 1_795_000_000_000 + Int64(n) * 1000
                        let context = QLContext(fields: EventMapper.fields(data), messageTimeMs: ts, nowMs: ts)
                        #expect(program.row(context.fields, nowMs: ts, messageTimeMs: ts) == QLEvaluator.select(statement, context), "\(data)")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared >= 600)
    }
}
