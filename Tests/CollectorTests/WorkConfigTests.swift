import Collector
import Runtime
import Testing

@Suite struct WorkConfigTests {
    static let hook = #"{"id":"crm","type":"webhook","name":"CRM","segments":["VIP"],"fields":["plan"],"exclude_segment":"no_marketing","destination":{"url":"https://hooks.example.com/cdp","secret":"0123456789abcdef0123"}}"#

    @Test func createValidateControlAndProtectAudiences() async throws {
        let fx = try await CollectorFixture()
        #expect(await fx.call("POST", "/api/segment", body: #"{"id":"s1","name":"VIP","slug":"vip","filterql":"FILTER *"}"#).status == 201)
        // Unknown audiences are named.
        let unknown = await fx.call("POST", "/api/work", body: Self.hook)
        #expect(unknown.status == 400 && unknown.json["message"] == "unknown audience 'no_marketing'")
        #expect(await fx.call("POST", "/api/segment", body: #"{"id":"s2","name":"No marketing","slug":"no_marketing","filterql":"FILTER consent == false"}"#).status == 201)
        let bad = await fx.call("POST", "/api/work", body: #"{"type":"webhook","name":"x","segments":["vip"],"destination":{"url":"ftp://x"}}"#)
        #expect(bad.status == 400 && bad.json["message"]?.stringValue?.contains("destination.url") == true)

        let created = await fx.call("POST", "/api/work", body: Self.hook)
        #expect(created.status == 201)
        let data = created.json["data"]
        #expect(data?["segments"] == ["vip"] && data?["generation"] == 1)
        // The secret is stored but never shown.
        #expect(data?["destination"]?["secret"] == nil && data?["destination"]?["secret_set"] == true)
        // A client that PUTs back what it read keeps the secret.
        var body = data?.objectValue ?? [:]
        body["name"] = "CRM sync"
        let put = await fx.call("PUT", "/api/work/crm", body: JSONValue.object(body).serialized())
        #expect(put.status == 200 && put.json["data"]?["destination"]?["secret_set"] == true)
        let stored = fx.app.view.read { $0.document(.init(account: "default", kind: "job", id: "crm")) }
        #expect(stored?.body["destination"]?["secret"] == "0123456789abcdef0123")

        let paused = await fx.call("POST", "/api/work/crm/pause")
        #expect(paused.status == 200 && paused.json["data"]?["paused"] == true)
        #expect(await fx.call("POST", "/api/work/crm/resume").json["data"]?["paused"] == false)
        let restarted = await fx.call("POST", "/api/work/crm/restart")
        #expect(restarted.status == 200 && restarted.json["data"]?["generation"] == 2)
        #expect(await fx.call("POST", "/api/work/nope/pause").status == 404)

        // Audiences a job uses cannot be deleted without cascade (which deletes the job too).
        let blocked = await fx.call("DELETE", "/api/segment/s2")
        #expect(blocked.status == 409 && blocked.json["data"]?["jobs"] == ["crm"])
        let cascade = await fx.call("DELETE", "/api/segment/s2?cascade=true")
        #expect(cascade.status == 200 && cascade.json["data"]?["deleted_jobs"] == ["crm"])
        #expect(await fx.call("GET", "/api/work/crm").status == 404)
    }
}
