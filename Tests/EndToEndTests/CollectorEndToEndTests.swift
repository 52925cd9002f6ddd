import Foundation
import HTTP
import Log
import Model
import Runtime
import TestSupport
import Testing

/// A `cdp-collector` process against a dev broker.
final class CollectorProcess: @unchecked Sendable {
    static let token = "e2e-admin-token-0123456789"
    let child: ChildProcess
    let url: String

    private init(child: ChildProcess, url: String) {
        self.child = child
        self.url = url
    }

    static func start(brokers: String, extraEnv: [String: String] = [:]) async throws -> CollectorProcess {
        let port = freePort()
        var env = ["CDP_BROKERS": brokers, "CDP_ADMIN_TOKEN": token, "CDP_HTTP_ADDR": "127.0.0.1:\(port)", "CDP_LOG_LEVEL": "warning"]
        for (k, v) in extraEnv { env[k] = v }
        let child = try ChildProcess(BuildProducts.path("cdp-collector"), [], environment: env)
        let url = "http://127.0.0.1:\(port)"
        let client = HTTPClient(timeoutSeconds: 2)
        for _ in 0..<150 {
            if let r = try? await client.send("GET", url + "/readyz"), r.status == 200 { return CollectorProcess(child: child, url: url) }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.signal(SIGKILL)
        throw TestFailure("cdp-collector did not become ready: \(child.stderr.suffix(2000))")
    }

    func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.wait(timeout: 30)
    }

    deinit {
        if child.process.isRunning { child.signal(SIGKILL) }
    }
}

@Suite struct CollectorEndToEndTests {
    /// `CDP_KAFKA_*` settings reach librdkafka; a wrong or reserved one stops the daemon at start
    /// (exit 78) with the variable or property named.
    @Test func kafkaSettings_areUsed_andBadOnesStopTheDaemonAtStart() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap, extraEnv: ["CDP_KAFKA_SOCKET_KEEPALIVE_ENABLE": "true"])
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await HTTPClient(timeoutSeconds: 10).send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"acme"}"#.utf8)).status == 201)
        #expect(await collector.stop() == 0)
        for (variable, named) in [("CDP_KAFKA_NO_SUCH_PROPERTY", "no.such.property"), ("CDP_KAFKA_PARTITIONER", "CDP_KAFKA_PARTITIONER: partitioner is set by cdp")] {
            let run = try await ChildProcess.run(BuildProducts.path("cdp-collector"), [], environment: [
                "CDP_BROKERS": broker.bootstrap, "CDP_ADMIN_TOKEN": CollectorProcess.token, "CDP_HTTP_ADDR": "127.0.0.1:\(freePort())", variable: "x",
            ], timeout: 30)
            #expect(run.status == 78, "\(variable): \(run.stderr)")
            #expect(run.stderr.contains(named), "\(run.stderr)")
        }
        #expect(await broker.stop() == 0)
    }

    @Test(.enabled(if: which("kcat") != nil, "kcat is installed by scripts/bootstrap"))
    func postedEvents_appearOnCdpEvents_exactlyAsPosted() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        let account = try await client.send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"acme","name":"Acme"}"#.utf8))
        #expect(account.status == 201)
        let key = try await client.send("POST", collector.url + "/api/apikey", headers: auth, body: Array(#"{"aid":"acme","name":"tag","roles":["collect"]}"#.utf8))
        let token = try JSONParser().parse(key.body)["data"]?["token"]?.stringValue ?? ""
        let body = #"[{"_id":"e-1","_ts":"2026-11-29T10:00:00Z","email":"ada@example.com","n":1},{"_id":"e-2","_ts":1795950000123,"tags":["a","b"],"n":2.5}]"#
        let posted = try await client.send("POST", collector.url + "/collect/json/web", headers: [("Authorization", token)], body: Array(body.utf8))
        #expect(posted.status == 200, "\(String(decoding: posted.body, as: UTF8.self))")
        let ndjson = try await client.send("POST", collector.url + "/collect/json/app", headers: [("Authorization", token), ("Content-Type", "application/x-ndjson")],
                                           body: Array("{\"_id\":\"e-3\",\"ts\":1795950000}\n{\"_id\":\"e-4\",\"ts\":1795950001}\n".utf8))
        #expect(ndjson.status == 200)

        let read = try await ChildProcess.run(which("kcat")!, ["-b", broker.bootstrap, "-C", "-t", "cdp.events", "-e", "-q", "-f", "%k\t%s\n"])
        let rows = read.stdout.split(separator: "\n").map { $0.split(separator: "\t", maxSplits: 1).map(String.init) }
        #expect(rows.count == 4)
        #expect(rows.allSatisfy { $0[0] == "acme" })
        let events = try rows.map { try EventRecord.parse(Array($0[1].utf8), fallbackID: "", fallbackTimestampMs: 0) }
        let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id, $0) })
        #expect(byID["e-1"]?.timestampMs == 1_795_946_400_000)
        #expect(byID["e-1"]?.data["email"] == "ada@example.com" && byID["e-1"]?.stream == "web")
        #expect(byID["e-2"]?.timestampMs == 1_795_950_000_123)
        #expect(byID["e-2"]?.data["tags"] == ["a", "b"] && byID["e-2"]?.data["n"] == 2.5)
        #expect(byID["e-3"]?.timestampMs == 1_795_950_000_000 && byID["e-3"]?.stream == "app")
        #expect(byID["e-4"] != nil)
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }

    @Test(.enabled(if: which("kcat") != nil, "kcat is installed by scripts/bootstrap"))
    func segmentPythonClient_sendsUnchanged() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        _ = try await client.send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"shop"}"#.utf8))
        let key = try await client.send("POST", collector.url + "/api/apikey", headers: auth, body: Array(#"{"aid":"shop","name":"segment","roles":["collect"]}"#.utf8))
        let writeKey = try JSONParser().parse(key.body)["data"]?["token"]?.stringValue ?? ""
        let peer = DevBrokerEndToEndTests.repository.appendingPathComponent("scripts/peers/segment_peer.py").path
        let sent = try await ChildProcess.run("/usr/bin/env", ["python3", peer, collector.url, writeKey], timeout: 60)
        #expect(sent.status == 0, "\(sent.stderr)")
        let read = try await ChildProcess.run(which("kcat")!, ["-b", broker.bootstrap, "-C", "-t", "cdp.events", "-e", "-q", "-f", "%k\t%s\n"])
        let events = try read.stdout.split(separator: "\n").map { line -> EventRecord in
            let parts = line.split(separator: "\t", maxSplits: 1)
            #expect(parts[0] == "shop")
            return try EventRecord.parse(Array(parts[1].utf8), fallbackID: "", fallbackTimestampMs: 0)
        }
        let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id, $0) })
        #expect(Set(byID.keys) == ["m-identify", "m-track", "m-page", "m-screen", "m-group", "m-alias"])
        #expect(events.allSatisfy { $0.stream == "segment" })
        let identify = byID["m-identify"]
        #expect(identify?.data["type"] == "identify" && identify?.data["userId"] == "user-1")
        #expect(identify?.data["traits"]?["email"] == "ada@example.com")
        #expect(identify?.timestampMs == 1_795_946_400_000)
        #expect(identify?.data["context"]?["library"]?["name"] != nil)
        #expect(byID["m-track"]?.data["event"] == "Signed Up" && byID["m-track"]?.data["properties"]?["plan"] == "pro")
        #expect(byID["m-screen"]?.data["anonymousId"] == "anon-9")
        #expect(byID["m-alias"]?.data["previousId"] == "anon-9")
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }

    @Test func twoCollectors_shareConfiguration_andRevocationReachesBoth() async throws {
        let broker = try await DevBrokerProcess.start()
        let a = try await CollectorProcess.start(brokers: broker.bootstrap)
        let b = try await CollectorProcess.start(brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await client.send("POST", a.url + "/api/account", headers: auth, body: Array(#"{"id":"acme"}"#.utf8)).status == 201)
        let created = try await client.send("POST", a.url + "/api/apikey", headers: auth, body: Array(#"{"aid":"acme","name":"k","roles":["collect"]}"#.utf8))
        let data = try JSONParser().parse(created.body)["data"]
        let token = data?["token"]?.stringValue ?? ""
        let id = data?["id"]?.stringValue ?? ""
        // The key made on A works on B as soon as B's view has the record.
        var statusOnB = 0
        for _ in 0..<40 {
            statusOnB = try await client.send("POST", b.url + "/collect/json/web", headers: [("Authorization", token)], body: Array("{}".utf8)).status
            if statusOnB == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(statusOnB == 200)
        // Revoked on B: A refuses it within a second or two.
        #expect(try await client.send("DELETE", b.url + "/api/apikey/\(id)?aid=acme", headers: auth).status == 200)
        let revokedAt = Date()
        var statusOnA = 200
        while Date().timeIntervalSince(revokedAt) < 2 {
            statusOnA = try await client.send("POST", a.url + "/collect/json/web", headers: [("Authorization", token)], body: Array("{}".utf8)).status
            if statusOnA == 401 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(statusOnA == 401)
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
        #expect(await broker.stop() == 0)
    }

    @Test func brokerGone_collectorAnswers503_andIsNotReady() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 30)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await client.send("POST", collector.url + "/collect/json/web", headers: auth, body: Array("{}".utf8)).status == 200)
        broker.child.signal(SIGKILL)
        _ = await broker.child.wait(timeout: 10)
        // librdkafka notices within a few seconds; past the 5 s threshold the collector refuses writes.
        var status = 0
        var retryAfter: String?
        for _ in 0..<40 {
            let r = try await client.send("POST", collector.url + "/collect/json/web", headers: auth, body: Array("{}".utf8))
            status = r.status
            retryAfter = r.header("Retry-After")
            if status == 503 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(status == 503)
        #expect(retryAfter != nil)
        #expect(try await client.send("GET", collector.url + "/readyz").status == 503)
        #expect(await collector.stop() == 0)
    }
}
