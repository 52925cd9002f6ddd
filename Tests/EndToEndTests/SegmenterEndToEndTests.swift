import Foundation
import HTTP
import Log
import Model
import Runtime
import TestSupport
import Testing

/// A daemon process that answers /readyz when started.
final class DaemonProcess: @unchecked Sendable {
    let child: ChildProcess
    let url: String

    private init(child: ChildProcess, url: String) {
        self.child = child
        self.url = url
    }

    static func start(_ executable: String, brokers: String) async throws -> DaemonProcess {
        let port = freePort()
        let env = ["CDP_BROKERS": brokers, "CDP_ADMIN_TOKEN": CollectorProcess.token, "CDP_HTTP_ADDR": "127.0.0.1:\(port)",
                   "CDP_LOG_LEVEL": "warning", "CDP_SESSION_TIMEOUT_MS": "6000"]
        let child = try ChildProcess(BuildProducts.path(executable), [], environment: env)
        let url = "http://127.0.0.1:\(port)"
        let client = HTTPClient(timeoutSeconds: 2)
        for _ in 0..<300 {
            if let r = try? await client.send("GET", url + "/readyz"), r.status == 200 { return DaemonProcess(child: child, url: url) }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.signal(SIGKILL)
        throw TestFailure("\(executable) did not become ready: \(child.stderr.suffix(2000))")
    }

    func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.wait(timeout: 30)
    }

    deinit {
        if child.process.isRunning { child.signal(SIGKILL) }
    }
}

@Suite struct SegmenterEndToEndTests {
    @Test func postedEvents_flowThroughResolverAndSegmenter_intoAudiences() async throws {
        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let resolver = try await DaemonProcess.start("cdp-resolver", brokers: broker.bootstrap)
        let segmenter = try await DaemonProcess.start("cdp-segmenter", brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await client.send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"acme"}"#.utf8)).status == 201)
        let segment = try await client.send("POST", collector.url + "/api/segment?aid=acme", headers: auth,
                                            body: Array(#"{"id":"pricing","name":"Pricing visitors","slug":"pricing_visitors","filterql":"FILTER urls CONTAINS \"/pricing\""}"#.utf8))
        #expect(segment.status == 201)
        let events = """
        {"_uid":"c1","url":"https://shop.example/pricing"}
        {"_uid":"c2","url":"https://shop.example/docs"}
        {"_uid":"c3","email":"ada@example.com","url":"https://shop.example/pricing"}
        """
        let posted = Date()
        #expect(try await client.send("POST", collector.url + "/collect/json/web?aid=acme", headers: auth, body: Array(events.utf8)).status == 200)
        var size: Int64 = 0
        for _ in 0..<100 {
            let r = try await client.send("GET", segmenter.url + "/api/segment/pricing/size?aid=acme", headers: auth)
            size = try JSONParser().parse(r.body)["data"]?["size"]?.intValue ?? 0
            if size == 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let latency = Date().timeIntervalSince(posted)
        #expect(size == 2)
        #expect(latency < 5, "took \(latency) s")
        let members = try JSONParser().parse(try await client.send("GET", segmenter.url + "/api/segment/pricing/members?aid=acme", headers: auth).body)
        #expect(members["data"]?["members"]?.arrayValue?.count == 2)
        // The resolver publishes each shard's profiles separately, so c2's profile (in no audience but
        // all_users) may reach the segmenter after the two pricing visitors: wait for it too.
        var sizes = JSONValue.null
        for _ in 0..<100 {
            sizes = try JSONParser().parse(try await client.send("GET", segmenter.url + "/api/segment/sizes?aid=acme", headers: auth).body)
            if sizes["data"]?["all_users"] == 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(sizes["data"]?["known_users"] == 1 && sizes["data"]?["all_users"] == 3)
        if let kcat = which("kcat") {
            let read = try await readTopic(kcat, brokers: broker.bootstrap, "cdp.memberships") { $0.contains("\"segment\":\"pricing\"") }
            #expect(read.contains("\"segment\":\"pricing\""))
        }
        let cli = try await ChildProcess.run(BuildProducts.path("cdp"), ["segment", "size", "pricing", "--aid", "acme"],
                                             environment: ["CDP_SEGMENTER_URL": segmenter.url, "CDP_TOKEN": CollectorProcess.token])
        #expect(cli.status == 0)
        #expect(cli.stdout.contains("\"size\":2"))
        let preview = try await ChildProcess.run(BuildProducts.path("cdp"), ["segment", "preview", "--filterql", "FILTER EXISTS email", "--aid", "acme"],
                                                 environment: ["CDP_SEGMENTER_URL": segmenter.url, "CDP_TOKEN": CollectorProcess.token])
        #expect(preview.stdout.contains("\"size\":1"))
        // The resolver's entity API lists the profile's audiences (from cdp.memberships).
        var segments: [String] = []
        for _ in 0..<60 {
            let r = try await client.send("GET", resolver.url + "/api/entity/user/email/ada@example.com?aid=acme", headers: auth)
            segments = (try JSONParser().parse(r.body)["data"]?["segments"]?.arrayValue ?? []).compactMap(\.stringValue)
            if segments == ["all_users", "known_users", "pricing_visitors"] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(segments == ["all_users", "known_users", "pricing_visitors"])
        for d in [segmenter, resolver] { #expect(await d.stop() == 0) }
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }
}
