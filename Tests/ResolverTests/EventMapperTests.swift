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
