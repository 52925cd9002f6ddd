import Foundation
import HTTP
import Log
import Model
import Runtime
import TestSupport
import Testing

/// A `cdp-resolver` process.
final class ResolverProcess: @unchecked Sendable {
    let child: ChildProcess
    let url: String

    private init(child: ChildProcess, url: String) {
        self.child = child
        self.url = url
    }

    static func start(brokers: String) async throws -> ResolverProcess {
        let port = freePort()
        let env = ["CDP_BROKERS": brokers, "CDP_ADMIN_TOKEN": CollectorProcess.token, "CDP_HTTP_ADDR": "127.0.0.1:\(port)",
                   "CDP_LOG_LEVEL": "warning", "CDP_SESSION_TIMEOUT_MS": "6000"]
        let child = try ChildProcess(BuildProducts.path("cdp-resolver"), [], environment: env)
        let url = "http://127.0.0.1:\(port)"
        let client = HTTPClient(timeoutSeconds: 2)
        for _ in 0..<300 {
            if let r = try? await client.send("GET", url + "/readyz"), r.status == 200 { return ResolverProcess(child: child, url: url) }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.signal(SIGKILL)
        throw TestFailure("cdp-resolver did not become ready: \(child.stderr.suffix(2000))")
    }

    func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.wait(timeout: 30)
    }

    deinit {
        if child.process.isRunning { child.signal(SIGKILL) }
    }
}

@Suite struct ResolverEndToEndTests {
    @Test func offlineResolve_reportsEachRejectedLineWithItsReason_andGoesOn() async throws {
        let input = """
        {"stream":"web","data":{"email":"Ada@X.com"}}
        not json
        {"stream":"web","ts":"yesterday","data":{"_uid":"c1"}}
        [1,2]
        {"stream":"web","data":[1]}
        {"data":{"_uid":"c2"}}
        """
        let run = try await ChildProcess.run(BuildProducts.path("cdp"), ["resolve"], stdin: Data(input.utf8))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 2) // ada@x.com, and c2 on the default stream
        for expected in ["line 2: invalid JSON: ", "line 3: not an event: \"ts\" must be epoch seconds/milliseconds or RFC 3339",
                         "line 4: not a JSON object", "line 5: not an event: \"data\" must be an object",
                         "6 events: 2 applied, 0 duplicates, 0 dropped by WHERE, 0 without identity, 4 rejected; 2 profiles"] {
            #expect(run.stderr.contains(expected), "\(expected) in \(run.stderr)")
        }
    }

    @Test func postedEvents_becomeOneStitchedProfile_onCdpProfilesAndTheAPI() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let resolver = try await ResolverProcess.start(brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await client.send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"acme"}"#.utf8)).status == 201)
        let events = """
        {"_uid":"c1","url":"https://shop.example/pricing","_ts":1795000000}
        {"_uid":"c2","url":"https://shop.example/docs","_ts":1795000060}
        {"_uid":"c2","email":"Ada <ADA@example.com>","url":"https://shop.example/signup","_ts":1795000120}
        {"_uid":"c1","email":"ada@example.com","_ts":1795000180}
        """
        let posted = try await client.send("POST", collector.url + "/collect/json/web?aid=acme", headers: auth, body: Array(events.utf8))
        #expect(posted.status == 200)
        var profile: JSONValue?
        for _ in 0..<100 {
            let r = try await client.send("GET", resolver.url + "/api/entity/user/email/ada@example.com?aid=acme", headers: auth)
            if r.status == 200, let p = try JSONParser().parse(r.body)["data"], p["meta"]?["events"] == 4 {
                profile = p
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(profile != nil)
        #expect(Set(profile?["identities"]?["_uid"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["c1", "c2"])
        #expect(profile?["fields"]?["urls"] == ["/pricing", "/docs", "/signup"])
        #expect(profile?["fields"]?["visitct"] == 4)
        // Read cdp.profiles with kcat: the stitched profile and the absorbed one's deleted record.
        if let kcat = which("kcat") {
            // The API shows an event once applied; its record reaches cdp.profiles a moment later.
            let key = "acme/\(profile?["id"]?.stringValue ?? "")"
            func newestPerKey(_ text: String) -> [String: JSONValue] {
                var view: [String: JSONValue] = [:]
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: "\t", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    view[String(parts[0])] = (try? JSONParser().parse(String(parts[1]))) ?? .null
                }
                return view
            }
            let read = try await readTopic(kcat, brokers: broker.bootstrap, "cdp.profiles", format: "%k\t%s\n") { text in
                let view = newestPerKey(text)
                return view[key]?["meta"]?["events"] == 4 && view.values.contains { $0["deleted"] == .bool(true) }
            }
            let view = newestPerKey(read)
            #expect(view[key]?["meta"]?["events"] == 4)
            #expect(view.values.filter { $0["deleted"] == .bool(true) }.count == 1)
            // The offline core prints, per event, the records the daemon publishes: the newest one
            // per key is the same as on cdp.profiles.
            let offline = events.split(separator: "\n").map { line -> String in
                let o = (try? JSONParser().parse(String(line))) ?? [:]
                var data = o.objectValue ?? [:]
                let ts = data.removeValue(forKey: "_ts")?.intValue ?? 0
                return JSONValue.object(["stream": "web", "ts": .int(ts * 1000), "data": .object(data)]).serialized()
            }.joined(separator: "\n")
            let changes = try await ChildProcess.run(BuildProducts.path("cdp"), ["resolve", "--changes", "--account", "acme"], stdin: Data(offline.utf8))
            #expect(changes.status == 0, "\(changes.stderr)")
            let printed = try changes.stdout.split(separator: "\n").map { try JSONParser().parse(String($0)) }
            #expect(printed.count == 5) // four profile records and the deleted record of the merged one
            var newest: [String: JSONValue] = [:]
            for record in printed {
                let recordKey = "acme/\(record["id"]?.stringValue ?? "")"
                #expect((record["version"]?.intValue ?? 0) > (newest[recordKey]?["version"]?.intValue ?? 0))
                newest[recordKey] = record
            }
            #expect(newest == view)
        }
        // The CLI: the profile by the address as the person typed it, and a schema dry run.
        let env = ["CDP_URL": collector.url, "CDP_RESOLVER_URL": resolver.url, "CDP_TOKEN": CollectorProcess.token]
        let byCLI = try await ChildProcess.run(BuildProducts.path("cdp"), ["profile", "get", "email", "ADA@Example.com", "--aid", "acme"], environment: env)
        #expect(byCLI.status == 0 && byCLI.stdout.contains(#""email":["ada@example.com"]"#), "\(byCLI.stderr)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"identity_keys":[{"field":"email","rank":1}],"mappings":"SELECT email(email) AS email, plan FROM crm INTO user BY email ALIAS crm"}"#.utf8)
            .write(to: dir.appendingPathComponent("schema.json"))
        try Data("{\"stream\":\"crm\",\"data\":{\"email\":\"B@X.com\",\"plan\":\"pro\"}}\n".utf8).write(to: dir.appendingPathComponent("events.ndjson"))
        let dry = try await ChildProcess.run(BuildProducts.path("cdp"), ["schema", "put", dir.appendingPathComponent("schema.json").path, "--dryrun",
                                                                         "--events", dir.appendingPathComponent("events.ndjson").path, "--aid", "acme"], environment: env)
        #expect(dry.status == 0 && dry.stdout.contains(#""plan":"pro""#) && dry.stdout.contains(#""email":["b@x.com"]"#), "\(dry.stdout) \(dry.stderr)")
        let history = try await ChildProcess.run(BuildProducts.path("cdp"), ["schema", "history", "--aid", "acme"], environment: env)
        #expect(history.status == 0 && history.stdout.isEmpty) // a dry run saves nothing
        // A GDPR request by the address as typed, followed until the resolver has done it.
        let erased = try await ChildProcess.run(BuildProducts.path("cdp"), ["profile", "delete", "email", "Ada@EXAMPLE.com", "--wait", "20", "--aid", "acme"], environment: env)
        #expect(erased.status == 0 && erased.stdout.contains(#""status":"done""#) && erased.stdout.contains(profile?["id"]?.stringValue ?? "?"), "\(erased.stdout) \(erased.stderr)")
        let gone = try await ChildProcess.run(BuildProducts.path("cdp"), ["profile", "get", "email", "ada@example.com", "--aid", "acme"], environment: env)
        #expect(gone.status == 1 && gone.stderr.contains("HTTP 404"))
        #expect(await resolver.stop() == 0)
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }
}
