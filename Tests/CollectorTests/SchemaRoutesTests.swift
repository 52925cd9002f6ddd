import Collector
import IdentityCore
import Runtime
import Testing

@Suite struct SchemaRoutesTests {
    @Test func putValidatesSavesVersionsAndDryRuns() async throws {
        let fx = try await CollectorFixture()
        let defaults = await fx.call("GET", "/api/schema")
        #expect(defaults.status == 200)
        #expect(defaults.json["data"]?["mappings"]?.stringValue?.contains("FROM web") == true)

        let bad = await fx.call("PUT", "/api/schema", body: #"{"mappings":"SELECT email FROM"}"#)
        #expect(bad.status == 400)
        #expect(bad.json["message"] == "invalid schema: mappings: line 1, column 18: expected a stream name after FROM, found the end of the text")

        let schema = #"{"identity_keys":[{"field":"email","rank":1},{"field":"_uid","rank":2,"kind":"set","capacity":5,"on_full":"evict_oldest"}],"mappings":"SELECT email(email) AS email, _uid, plan FROM crm INTO user BY email OR _uid ALIAS crm"}"#
        let dry = await fx.call("PUT", "/api/schema?dryrun=true", body: String(schema.dropLast()) + #","events":[{"stream":"crm","data":{"email":"A@X.com","_uid":"c1","plan":"pro"}},{"stream":"crm","data":{"_uid":"c1","plan":"team"}},7]}"#)
        #expect(dry.status == 200)
        #expect(dry.json["data"]?["profiles"]?.arrayValue?.count == 1)
        #expect(dry.json["data"]?["profiles"]?.arrayValue?.first?["fields"]?["plan"] == "team")
        #expect(dry.json["data"]?["problems"] == [["index": 2, "reason": "not an object"]])
        let badSamples = await fx.call("PUT", "/api/schema?dryrun=true", body: #"{"events":[{"stream":"web","ts":"yesterday","data":{"email":"a@b.com"}},{"data":[1]}]}"#)
        #expect(badSamples.json["data"]?["problems"] == [["index": 0, "reason": "not an event: \"ts\" must be epoch seconds/milliseconds or RFC 3339"],
                                                         ["index": 1, "reason": "not an event: \"data\" must be an object"]])
        #expect(await fx.call("GET", "/api/schema/history").json["data"]?.arrayValue?.isEmpty == true)
        // A dry run asked for in a form the API does not read is refused, not taken as "publish".
        let misspelt = await fx.call("PUT", "/api/schema?dryrun=yes", body: schema)
        #expect(misspelt.status == 400)
        #expect(misspelt.json["message"] == "dryrun must be true or false, not 'yes'")
        #expect(await fx.call("PUT", "/api/schema?dryrun=1", body: schema).json["data"]?["profiles"]?.arrayValue?.isEmpty == true)
        #expect(await fx.call("GET", "/api/schema/history").json["data"]?.arrayValue?.isEmpty == true)

        let v1 = await fx.call("PUT", "/api/schema", body: schema)
        #expect(v1.status == 200 && v1.json["data"]?["version"] == 1)
        let v2 = await fx.call("PUT", "/api/schema", body: schema, headers: [("If-Match", "1")])
        #expect(v2.json["data"]?["version"] == 2)
        #expect(await fx.call("PUT", "/api/schema", body: schema, headers: [("If-Match", "1")]).status == 409)
        let history = await fx.call("GET", "/api/schema/history")
        #expect(history.json["data"]?.arrayValue?.compactMap { $0["version"]?.stringValue } == ["2", "1"])
        #expect(await fx.call("GET", "/api/schema/1").json["data"]?["identity_keys"]?.arrayValue?.count == 2)
        #expect(await fx.call("GET", "/api/schema/9").status == 404)

        // A member no part of the schema reads is a typo, refused with what the part has.
        let typo = await fx.call("PUT", "/api/schema", body: String(schema.dropLast()) + #","max_identifier":5}"#)
        #expect(typo.status == 400)
        #expect(typo.json["message"] == "invalid schema: unknown member \"max_identifier\" (a schema has identity_keys, fields, max_identifiers, mappings)")
        // What GET returns can be sent back as it is; its metadata is not stored with the schema.
        let fetched = await fx.call("GET", "/api/schema")
        let back = await fx.call("PUT", "/api/schema", body: fetched.json["data"]!.serialized())
        #expect(back.status == 200 && back.json["data"]?["version"] == 3, "\(back.json)")
        let stored = await fx.call("GET", "/api/schema/3").json["data"]?.objectValue ?? [:]
        #expect(Set(stored.keys) == ["identity_keys", "mappings"])
    }

    @Test(arguments: [
        (#"{"identity_keys":[{"field":"email","rank":1}],"mappings":"SELECT email FROM web"}"#, nil as String?),
        (#"{"id":"current","aid":"a","version":3,"created":"x","updated":"y","updated_by":"admin","max_identifiers":9}"#, nil),
        (#"{"fields":[{"name":"plan","kind":"string","merge_op":"latest","short_description":"Plan","long_description":"The plan."}]}"#, nil),
        (#"{"identity_key":[]}"#, #"unknown member "identity_key" (a schema has identity_keys, fields, max_identifiers, mappings)"#),
        (#"{"identity_keys":[{"field":"email","rank":1,"onfull":"reject"}]}"#,
         #"identity_keys[0]: unknown member "onfull" (an identity key has field, rank, kind, capacity, on_full, ttl_days, blocked)"#),
        (#"{"identity_keys":[7]}"#, "identity_keys[0] must be an object"),
        (#"{"identity_keys":[{"field":"email","rank":1,"blocked":["x",1]}]}"#, "identity_keys[0].blocked must be a list of strings"),
        (#"{"identity_keys":[{"field":"email","rank":1,"blocked":"x"}]}"#, "identity_keys[0].blocked must be a list of strings"),
        (#"{"fields":{"plan":"string"}}"#, "fields must be a list"),
        (#"{"fields":[{"name":"plan","kind":"string","mergeop":"latest"}]}"#,
         #"fields[0]: unknown member "mergeop" (a field has name, kind, merge_op, short_description, long_description)"#),
        (#"{"fields":[{"name":"plan","kind":"string","short_description":5}]}"#, "fields[0].short_description must be a string"),
        (#"{"mappings":["SELECT a FROM b"]}"#, "mappings must be LQL text (a string)"),
        (#"{"identity_keys":[{"field":"email","rank":1,"ttl_days":"30"}]}"#, "identity_keys[0].ttl_days must be a whole number"),
        (#"{"identity_keys":[{"field":"email","rank":1,"ttl_days":null,"capacity":1}]}"#, nil),
        (#"{"identity_keys":[{"field":"email","rank":1,"kind":"set","capacity":"5"}]}"#, "identity_keys[0].capacity must be a whole number"),
        (#"{"identity_keys":[{"field":"email","rank":1,"kind":1}]}"#, "identity_keys[0].kind must be a string"),
        (#"{"fields":[{"name":"plan","kind":"string","merge_op":true}]}"#, "fields[0].merge_op must be a string"),
        (#"{"max_identifiers":"50"}"#, "max_identifiers must be a whole number"),
    ])
    func strictSchemaDocuments(document: String, problem: String?) throws {
        let o = try JSONParser().parse(document).objectValue ?? [:]
        #expect(AccountSchema.strictProblem(o) == problem)
    }
}
