import Collector
import Runtime
import Testing

@Suite struct WorkConfigTests {
    static let hook = #"{"id":"crm","type":"webhook","name":"CRM","segments":["VIP"],"fields":["plan"],"exclude_segment":"no_marketing","destination":{"url":"https://hooks.example.com/cdp","secret":"0123456789abcdef0123"}}"#

    @Test(arguments: [
        ("/api/account", #"{"id":"okacct","nmae":"Ok"}"#, #"unknown member "nmae" (an account has id, name)"#),
        ("/api/account", #"{"id":"okacct","name":7}"#, #""name" must be a string"#),
        ("/api/apikey", #"{"aid":"default","name":"k","role":["admin"]}"#, #"unknown member "role" (an API key has aid, name, roles)"#),
    ])
    func strayAccountAndKeyMembers_areRefused(path: String, body: String, message: String) async throws {
        let fx = try await CollectorFixture()
        let r = await fx.call("POST", path, body: body)
        #expect(r.status == 400)
        #expect(r.json["message"]?.stringValue == message)
    }

    /// Members nothing reads are refused — a typo must not silently mean the default (an
    /// unsigned webhook for a misspelt secret) — and so are audience settings of the wrong type.
    @Test(arguments: [
        ("/api/work", #"{"type":"webhook","name":"x","segments":["vip"],"destination":{"url":"https://h.example.com/x"},"pasued":true}"#,
         #"unknown member "pasued" (an export job has id, type, name, segments, exclude_segment, fields, trigger_fields, existing_users, keep_updated, paused, batch, destination, alert_url, retry_budget_s, generation)"#),
        ("/api/work", #"{"type":"webhook","name":"x","segments":["vip"],"destination":{"url":"https://h.example.com/x","secrett":"0123456789abcdef0123"}}"#,
         #"destination: unknown member "secrett" (a webhook destination has url, secret, headers, secret_set)"#),
        ("/api/work", #"{"type":"file","name":"x","segments":["vip"],"destination":{"dir":"/tmp/x","url":"https://h.example.com/x"}}"#,
         #"destination: unknown member "url" (a file destination has dir, format)"#),
        ("/api/segment", #"{"name":"VIP","slug":"vip2","filterql":"FILTER *","api_accesible":true}"#,
         #"unknown member "api_accesible" (an audience has id, name, slug, description, filterql, rules, api_accessible)"#),
        ("/api/segment", #"{"name":"VIP","slug":"vip2","filterql":"FILTER *","api_accessible":"yes"}"#, #""api_accessible" must be true or false"#),
        ("/api/segment", #"{"name":"VIP","slug":"vip2","filterql":"FILTER *","description":7}"#, #""description" must be a string"#),
    ])
    func strayMembers_areRefused(path: String, body: String, message: String) async throws {
        let fx = try await CollectorFixture()
        #expect(await fx.call("POST", "/api/segment", body: #"{"id":"s1","name":"VIP","slug":"vip","filterql":"FILTER *"}"#).status == 201)
        let r = await fx.call("POST", path, body: body)
        #expect(r.status == 400)
        #expect(r.json["message"]?.stringValue == message)
        // An audience read back with its metadata can be saved again as it is.
        let read = await fx.call("GET", "/api/segment/s1")
        #expect(await fx.call("PUT", "/api/segment/s1", body: read.json["data"]!.serialized()).status == 200)
    }

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
