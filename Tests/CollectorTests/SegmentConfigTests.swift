import Collector
import Runtime
import Testing

@Suite struct SegmentConfigTests {
    @Test func createValidateIncludeAndDeleteWithDependents() async throws {
        let fx = try await CollectorFixture()
        let base = await fx.call("POST", "/api/segment", body: #"{"id":"s1","name":"US","slug":"US_users","filterql":"FILTER country == \"US\""}"#)
        #expect(base.status == 201)
        #expect(base.json["data"]?["slug"] == "us_users")
        let tree = await fx.call("POST", "/api/segment", body: #"{"id":"s2","name":"Engaged US","slug":"engaged_us","rules":{"rulesets":[{"rules":[{"kind":"audience","slug":"us_users"},{"kind":"field","field":"visits","operator":">=","value":5}]}]}}"#)
        #expect(tree.status == 201)
        #expect(tree.json["data"]?["filterql"] == #"FILTER AND(INCLUDE us_users, visits >= 5)"#)

        #expect(await fx.call("POST", "/api/segment", body: #"{"name":"dup","slug":"us_users","filterql":"FILTER *"}"#).json["message"] == "slug 'us_users' is already used by another audience")
        let parse = await fx.call("POST", "/api/segment", body: #"{"name":"bad","slug":"bad","filterql":"FILTER x =="}"#)
        #expect(parse.status == 400)
        #expect(parse.json["message"]?.stringValue?.contains("line 1, column 12") == true)
        #expect(await fx.call("POST", "/api/segment", body: #"{"name":"x","slug":"x","filterql":"FILTER INCLUDE nowhere"}"#).status == 400)
        let values = (0..<1001).map { "\\\"v\($0)\\\"" }.joined(separator: ",")
        let big = await fx.call("POST", "/api/segment", body: "{\"name\":\"big\",\"slug\":\"big\",\"filterql\":\"FILTER x IN (\(values))\"}")
        #expect(big.json["message"]?.stringValue?.contains("Audience too large! Remove values to save this audience") == true)
        // Editing keeps its own slug.
        #expect(await fx.call("PUT", "/api/segment/s1", body: #"{"name":"US","slug":"us_users","filterql":"FILTER country IN (\"US\", \"PR\")"}"#, headers: [("If-Match", "1")]).status == 200)
        #expect(await fx.call("GET", "/api/segment/slug/engaged_us").json["data"]?["id"] == "s2")

        let blocked = await fx.call("DELETE", "/api/segment/s1")
        #expect(blocked.status == 409)
        #expect(blocked.json["data"]?["dependents"] == ["engaged_us"])
        let cascade = await fx.call("DELETE", "/api/segment/s1?cascade=true")
        #expect(cascade.status == 200)
        #expect(cascade.json["data"]?["deleted"] == ["s2", "s1"])
        #expect(await fx.call("GET", "/api/segment").json["data"]?.arrayValue?.isEmpty == true)
    }
}
