import Collector
import Foundation
import HTTP
import Pipeline
import Log
import Model
import Runtime
import Testing

let adminToken = "test-admin-token-0123456789"

/// A collector on an in-memory log, driven through its router.
final class CollectorFixture: @unchecked Sendable {
    let log = InMemoryLog(defaultPartitions: 4)
    let app: CollectorApp
    let router: Router
    let tasks: [Task<Void, Error>]

    init(unavailableAfterMs: Int64 = 5000) async throws {
        var settings = CollectorSettings()
        settings.adminToken = adminToken
        settings.unavailableAfterMs = unavailableAfterMs
        settings.limits = CollectLimits(maxEventBytes: 1024, maxEventsPerRequest: 50)
        try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions, configs: $0.configs) })
        app = try CollectorApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()), metrics: MetricsRegistry())
        router = app.router
        tasks = app.services.map { s in Task { try await s.run() } }
        while !app.view.isCaughtUp { try await Task.sleep(for: .milliseconds(5)) }
    }

    deinit { for t in tasks { t.cancel() } }

    func call(_ method: String, _ target: String, token: String? = adminToken, body: String? = nil,
              headers: [(String, String)] = []) async -> (status: Int, json: JSONValue, headers: HTTPHeaders) {
        var h = HTTPHeaders(headers)
        if let token { h.add("Authorization", "Bearer \(token)") }
        let response = await router.handle(HTTPRequest(method: method, target: target, headers: h, body: Array((body ?? "").utf8)))
        let json = (try? JSONParser().parse(response.body)) ?? .null
        return (response.status, json, response.headers)
    }

    /// Events written to cdp.events, in partition/offset order.
    func events() -> [ConsumerRecord] {
        (0..<4).flatMap { log.records(TopicPartition("cdp.events", Int32($0))) }
    }

    func makeKey(account: String, roles: [String]) async -> String {
        let body: JSONValue = ["aid": .string(account), "name": "k", "roles": .array(roles.map(JSONValue.string))]
        let r = await call("POST", "/api/apikey", body: body.serialized())
        return r.json["data"]?["token"]?.stringValue ?? ""
    }
}

@Suite struct CollectAPITests {
    @Test func postedEvents_areWrittenKeyedByAccount_withIdsAndTimes() async throws {
        let fx = try await CollectorFixture()
        let r = await fx.call("POST", "/collect/json/web", body: #"[{"_id":"e1","_ts":1795000000,"url":"/a"},{"url":"/b"}]"#)
        #expect(r.status == 200)
        #expect(r.json["data"]?["accepted"] == 2)
        let written = fx.events()
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.keyString == "default" })
        let first = try EventRecord.parse(written[0].value!, fallbackID: "", fallbackTimestampMs: 0)
        #expect(first.id == "e1" && first.timestampMs == 1_795_000_000_000 && first.data["url"] == "/a" && first.stream == "web")
        let second = try EventRecord.parse(written[1].value!, fallbackID: "", fallbackTimestampMs: 0)
        #expect(second.id.hasPrefix("evt_"))
        // The operator's default account was created on first use.
        #expect(fx.app.view.read { $0.account("default") } != nil)
    }

    @Test func deletionRequests_areCommandsOnCdpEvents_andReservedStreamsAreRefused() async throws {
        let fx = try await CollectorFixture()
        let r = await fx.call("DELETE", "/api/entity/user/email/ada@x.com")
        #expect(r.status == 202)
        let id = r.json["data"]?["request_id"]?.stringValue ?? ""
        let command = try EventRecord.parse(fx.events().last!.value!, fallbackID: "", fallbackTimestampMs: 0)
        #expect(command.stream == "_commands" && command.data["request_id"] == .string(id) && command.data["value"] == "ada@x.com")
        #expect(r.json["data"]?["warning"] == nil)
        #expect(await fx.call("POST", "/collect/json/_commands", body: #"{"command":"delete"}"#).status == 400)
        // A field that is no identity key is written all the same, with a warning.
        let odd = await fx.call("DELETE", "/api/entity/user/phone/123")
        #expect(odd.status == 202 && fx.events().count == 2)
        #expect(odd.json["data"]?["warning"] == "phone is not an identity key of this account (user_id, email, _uid): the request erases a profile only if one still holds phone = 123 from an earlier schema")
    }

    @Test func dryRun_returnsTheRecords_andWritesNothing() async throws {
        let fx = try await CollectorFixture()
        let r = await fx.call("POST", "/collect/json/web?dryrun=true", body: "{\"a\":1}\n{\"a\":2}\n7\n")
        #expect(r.status == 200)
        #expect(r.json["data"]?["records"]?.arrayValue?.count == 2)
        #expect(r.json["data"]?["errors"]?.arrayValue?.first?["line"] == 3)
        #expect(fx.events().isEmpty)
    }

    @Test func badBodies_and_limits() async throws {
        let fx = try await CollectorFixture()
        let malformed = await fx.call("POST", "/collect/json/web", body: "{\"a\":\n  oops}")
        #expect(malformed.status == 400)
        #expect(malformed.json["message"] == "malformed JSON: unexpected character 'o', expected a value at line 2, column 3")
        let tooMany = await fx.call("POST", "/collect/json/web", body: "[" + Array(repeating: "{}", count: 51).joined(separator: ",") + "]")
        #expect(tooMany.status == 413)
        let noneValid = await fx.call("POST", "/collect/json/web", body: "[1,2]")
        #expect(noneValid.status == 400)
        let badStream = await fx.call("POST", "/collect/json/bad%20stream", body: "{}")
        #expect(badStream.status == 400)
        #expect(fx.events().isEmpty)
    }

    @Test func brokerUnreachable_gives503WithRetryAfter_andRecovers() async throws {
        let fx = try await CollectorFixture(unavailableAfterMs: 200)
        _ = await fx.call("POST", "/collect/json/web", body: "{}")
        fx.log.setAvailable(false)
        try await Task.sleep(for: .milliseconds(300))
        let down = await fx.call("POST", "/collect/json/web", body: "{}")
        #expect(down.status == 503)
        #expect(down.headers["Retry-After"] == "5")
        let ready = await fx.call("GET", "/readyz", token: nil)
        #expect(ready.status == 503)
        fx.log.setAvailable(true)
        let up = await fx.call("POST", "/collect/json/web", body: "{}")
        #expect(up.status == 200)
        #expect(await fx.call("GET", "/readyz", token: nil).status == 200)
    }
}

/// Streams starting with `_` belong to the platform (`_commands` carries deletions): no route a
/// collect-only key can use writes there — a web tag's key must not be able to erase profiles.
@Suite struct ReservedStreamTests {
    @Test(arguments: [
        ("/collect/json/_commands", "application/json", #"{"command":"delete","field":"email","value":"a@x.com","request_id":"r1"}"#),
        ("/collect/bulk/_commands", "text/csv", "command,field,value,request_id\ndelete,email,a@x.com,r1\n"),
        ("/collect/bulk/_commands?format=ndjson", "application/x-ndjson", #"{"command":"delete","field":"email","value":"a@x.com","request_id":"r1"}"#),
        ("/v1/track?stream=_commands", "application/json", #"{"userId":"u1","event":"x","command":"delete","field":"email","value":"a@x.com","request_id":"r1"}"#),
        ("/v1/batch?stream=_x", "application/json", #"{"batch":[{"type":"track","userId":"u1","event":"x"}]}"#),
    ])
    func reservedStreams_areRefusedOnEveryRoute(target: String, contentType: String, body: String) async throws {
        let fx = try await CollectorFixture()
        let key = await fx.makeKey(account: "default", roles: ["collect"])
        var headers = [("Content-Type", contentType)]
        if target.hasPrefix("/v1/") { headers.append(("Authorization", "Basic " + Data("\(key):".utf8).base64EncodedString())) }
        let r = await fx.call("POST", target, token: target.hasPrefix("/v1/") ? nil : key, body: body, headers: headers)
        #expect(r.status == 400, "\(target): \(r.json)")
        #expect(r.json["message"] == "stream names starting with '_' are reserved", "\(target)")
        #expect(fx.events().isEmpty)
    }
}

@Suite struct AuthTests {
    @Test func missingOrUnknownKeys_are401_wrongRoleOrAccount_is403() async throws {
        let fx = try await CollectorFixture()
        #expect(await fx.call("POST", "/api/account", body: #"{"id":"acme","name":"Acme"}"#).status == 201)
        #expect(await fx.call("POST", "/api/account", body: #"{"id":"beta"}"#).status == 201)
        let collectKey = await fx.makeKey(account: "acme", roles: ["collect"])
        let adminKey = await fx.makeKey(account: "acme", roles: ["admin"])
        let betaKey = await fx.makeKey(account: "beta", roles: ["admin"])
        #expect(!collectKey.isEmpty && !adminKey.isEmpty && !betaKey.isEmpty)

        #expect(await fx.call("POST", "/collect/json/web", token: nil, body: "{}").status == 401)
        #expect(await fx.call("POST", "/collect/json/web", token: "cdp_nope", body: "{}").status == 401)
        #expect(await fx.call("POST", "/collect/json/web", token: collectKey, body: "{}").status == 200)
        #expect(fx.events().last?.keyString == "acme")
        // Role and account boundaries.
        #expect(await fx.call("GET", "/api/apikey", token: collectKey).status == 403)
        #expect(await fx.call("POST", "/collect/json/web?aid=beta", token: collectKey, body: "{}").status == 403)
        #expect(await fx.call("GET", "/api/account/beta", token: adminKey).status == 403)
        #expect(await fx.call("POST", "/api/apikey", token: adminKey, body: #"{"aid":"beta","name":"x","roles":["admin"]}"#).status == 403)
        #expect(await fx.call("POST", "/api/account", token: adminKey, body: #"{"id":"gamma"}"#).status == 403)
        // Other ways to send a key.
        let basic = Data("\(collectKey):".utf8).base64EncodedString()
        #expect(await fx.call("POST", "/collect/json/web", token: nil, body: "{}", headers: [("Authorization", "Basic \(basic)")]).status == 200)
        #expect(await fx.call("POST", "/collect/json/web?access_token=\(collectKey)", token: nil, body: "{}").status == 200)
        #expect(await fx.call("POST", "/collect/json/web?key=\(collectKey)", token: nil, body: "{}").status == 200)
        #expect(await fx.call("POST", "/collect/json/web", token: nil, body: "{}", headers: [("Authorization", collectKey)]).status == 200)
        // The operator may name any existing account.
        #expect(await fx.call("POST", "/collect/json/web?aid=beta", body: "{}").status == 200)
        #expect(await fx.call("POST", "/collect/json/web?aid=nosuch", body: "{}").status == 404)
    }

    @Test func apiKeys_storeOnlyAHash_listWithoutSecrets_andRevocationTakesEffect() async throws {
        let fx = try await CollectorFixture()
        _ = await fx.call("POST", "/api/account", body: #"{"id":"acme"}"#)
        let created = await fx.call("POST", "/api/apikey", body: #"{"aid":"acme","name":"web tag","roles":["collect","read"]}"#)
        #expect(created.status == 201)
        let token = created.json["data"]?["token"]?.stringValue ?? ""
        let id = created.json["data"]?["id"]?.stringValue ?? ""
        #expect(token.hasPrefix("cdp_"))
        // Nothing on the log carries the token itself.
        let config = fx.log.records(TopicPartition("cdp.config", 0)).compactMap(\.valueString).joined()
        #expect(!config.contains(token))
        let listed = await fx.call("GET", "/api/apikey?aid=acme")
        let first = listed.json["data"]?.arrayValue?.first
        #expect(first?["name"] == "web tag" && first?["token"] == nil && first?["token_sha256"] == nil)
        #expect(await fx.call("POST", "/collect/json/web", token: token, body: "{}").status == 200)
        #expect(await fx.call("DELETE", "/api/apikey/\(id)?aid=acme").status == 200)
        #expect(await fx.call("POST", "/collect/json/web", token: token, body: "{}").status == 401)
        #expect(await fx.call("DELETE", "/api/apikey/\(id)?aid=acme").status == 404)
    }

    @Test func accounts_createListGet_andDuplicatesConflict() async throws {
        let fx = try await CollectorFixture()
        let created = await fx.call("POST", "/api/account", body: #"{"id":"acme","name":"Acme"}"#)
        #expect(created.status == 201)
        #expect(created.json["data"]?["version"] == 1)
        #expect(await fx.call("POST", "/api/account", body: #"{"id":"acme"}"#).status == 409)
        #expect(await fx.call("POST", "/api/account", body: #"{"id":"Bad Id"}"#).status == 400)
        #expect(await fx.call("POST", "/api/account", body: #"{"id":"#).status == 400)
        let list = await fx.call("GET", "/api/account")
        #expect(list.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["acme"])
        #expect(await fx.call("GET", "/api/account/acme").json["data"]?["name"] == "Acme")
        #expect(await fx.call("GET", "/api/account/none").status == 404)
    }
}

@Suite struct SegmentAPITests {
    @Test func singleCallsAndBatches_mapOntoTheSegmentStream() async throws {
        let fx = try await CollectorFixture()
        let track = await fx.call("POST", "/v1/track", body: #"{"userId":"u1","event":"Buy","properties":{"sku":"x"},"messageId":"m1","timestamp":"2026-11-29T10:00:00.000Z"}"#)
        #expect(track.status == 200)
        let batch = await fx.call("POST", "/v1/batch", body: #"{"batch":[{"type":"identify","anonymousId":"a1","traits":{"email":"e@x"},"messageId":"m2"},{"type":"page","messageId":"m3"},{"type":"bogus","userId":"u"}],"context":{"library":{"name":"test"}}}"#)
        #expect(batch.status == 200)
        #expect(batch.json["data"]?["accepted"] == 1)
        #expect(batch.json["data"]?["errors"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } == [
            "a page message needs userId or anonymousId",
            "\"type\" must be one of alias, group, identify, page, screen, track",
        ])
        let events = try fx.events().map { try EventRecord.parse($0.value!, fallbackID: "", fallbackTimestampMs: 0) }
        #expect(events.map(\.id).sorted() == ["m1", "m2"])
        let m1 = events.first { $0.id == "m1" }
        #expect(m1?.stream == "segment" && m1?.data["type"] == "track" && m1?.timestampMs == 1_795_946_400_000)
        let m2 = events.first { $0.id == "m2" }
        #expect(m2?.data["context"]?["library"]?["name"] == "test")
    }
}
