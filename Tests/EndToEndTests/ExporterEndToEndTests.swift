import Foundation
import HTTP
import Log
import Model
import Runtime
import TestSupport
import Testing

@Suite struct ExporterEndToEndTests {
    /// POST /collect → resolver → segmenter → exporter → a local webhook, for real processes.
    @Test func postedEvent_entersAnAudience_andReachesTheWebhook() async throws {
        let received = Locked<[(atMs: Int64, body: JSONValue)]>([])
        var router = Router()
        router.post("/hook") { request in
            let body = (try? JSONParser().parse(request.body)) ?? .null
            received.withLock { $0.append((Timestamp.nowMs(), body)) }
            return .json(200)
        }
        let receiver = HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), router: router,
                                  logger: Logger(label: "receiver", level: .error, sink: MemorySink()), metrics: MetricsRegistry())
        let port = try receiver.start()
        let receiverTask = Task { try await receiver.run() }
        defer { receiverTask.cancel() }

        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let resolver = try await DaemonProcess.start("cdp-resolver", brokers: broker.bootstrap)
        let segmenter = try await DaemonProcess.start("cdp-segmenter", brokers: broker.bootstrap)
        let exporter = try await DaemonProcess.start("cdp-exporter", brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)")]
        #expect(try await client.send("POST", collector.url + "/api/account", headers: auth, body: Array(#"{"id":"acme"}"#.utf8)).status == 201)
        #expect(try await client.send("POST", collector.url + "/api/segment?aid=acme", headers: auth,
                                      body: Array(#"{"id":"pricing","name":"Pricing visitors","slug":"pricing_visitors","filterql":"FILTER urls CONTAINS \"/pricing\""}"#.utf8)).status == 201)
        let job = #"{"id":"hook","type":"webhook","name":"Hook","segments":["pricing_visitors"],"destination":{"url":"http://127.0.0.1:\#(port)/hook","secret":"0123456789abcdef0123"}}"#
        #expect(try await client.send("POST", collector.url + "/api/work?aid=acme", headers: auth, body: Array(job.utf8)).status == 201)
        // Wait until the job runs on every partition.
        for _ in 0..<100 {
            let status = try JSONParser().parse(try await client.send("GET", exporter.url + "/api/work/hook?aid=acme", headers: auth).body)
            if status["data"]?["partitions"]?.arrayValue?.count == 4 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        var latencies: [Double] = []
        for i in 1...3 {
            let sent = Timestamp.nowMs()
            let event = #"{"_uid":"visitor-\#(i)","url":"https://shop.example/pricing"}"#
            #expect(try await client.send("POST", collector.url + "/collect/json/web?aid=acme", headers: auth, body: Array(event.utf8)).status == 200)
            var arrived: Int64?
            for _ in 0..<2000 {
                arrived = received.withLock { r in r.first { $0.body["events"]?.arrayValue?.contains { e in e["action"] == "enter" && e["user"]?["_uid"] == .string("visitor-\(i)") } == true }?.atMs }
                if arrived != nil { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            let latency = Double((arrived ?? Timestamp.nowMs()) - sent) / 1000
            #expect(arrived != nil, "visitor-\(i) never reached the webhook: \(received.withLock { $0.map { $0.body.serialized() } })")
            latencies.append(latency)
        }
        // At rest, POST → webhook takes well under a second (median of three).
        #expect(latencies.sorted()[1] < 1.0, "latencies \(latencies)")
        print("exporter e2e latencies (s):", latencies)
        var status = JSONValue.null
        for _ in 0..<100 {
            status = try JSONParser().parse(try await client.send("GET", exporter.url + "/api/work/hook?aid=acme", headers: auth).body)
            if status["data"]?["delivered"] == 3 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(status["data"]?["delivered"] == 3 && status["data"]?["state"] == "running", "\(status.serialized())")
        if let kcat = which("kcat") {
            let read = try await readTopic(kcat, brokers: broker.bootstrap, "cdp.exports") { $0.contains("\"status\":\"delivered\"") }
            #expect(read.contains("\"status\":\"delivered\""))
        }
        for d in [exporter, segmenter, resolver] { #expect(await d.stop() == 0) }
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }
}
