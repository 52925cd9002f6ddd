import Foundation
import HTTP
import Log
import Model
import Runtime
import TestSupport
import Testing

/// The demo's flow on a small scale with the built binaries: web events with cookies and a
/// signup on a second device, a CRM CSV through the bulk API, a consent stream produced straight
/// onto cdp.events with kcat, audiences, a webhook export excluding the no-consent audience and a
/// CSV file export — then the merged profile, the audience sizes, and what the webhook and the
/// files received.
@Suite struct TourEndToEndTests {
    @Test func theTourOnASmallScale() async throws {
        let kcat = try #require(which("kcat"), "kcat is installed by scripts/bootstrap")
        let hooks = Locked<[JSONValue]>([])
        var router = Router()
        router.post("/hook") { request in
            for e in (try? JSONParser().parse(request.body))?["events"]?.arrayValue ?? [] { hooks.withLock { $0.append(e) } }
            return .json(200)
        }
        let receiver = HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), router: router,
                                  logger: Logger(label: "receiver", level: .error, sink: MemorySink()), metrics: MetricsRegistry())
        let port = try receiver.start()
        let receiverTask = Task { try await receiver.run() }
        defer { receiverTask.cancel() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdp-tour-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let broker = try await DevBrokerProcess.start()
        let collector = try await CollectorProcess.start(brokers: broker.bootstrap)
        let resolver = try await DaemonProcess.start("cdp-resolver", brokers: broker.bootstrap)
        let segmenter = try await DaemonProcess.start("cdp-segmenter", brokers: broker.bootstrap)
        let exporter = try await DaemonProcess.start("cdp-exporter", brokers: broker.bootstrap)
        let client = HTTPClient(timeoutSeconds: 10)
        let auth = [("Authorization", "Bearer \(CollectorProcess.token)"), ("Content-Type", "application/json")]
        func post(_ path: String, _ body: String, contentType: String? = nil) async throws -> Int {
            var headers = auth
            if let contentType { headers[1] = ("Content-Type", contentType) }
            return try await client.send("POST", collector.url + path, headers: headers, body: Array(body.utf8)).status
        }
        func get(_ url: String) async throws -> JSONValue {
            try JSONParser().parse(try await client.send("GET", url, headers: auth).body)["data"] ?? .null
        }
        #expect(try await post("/api/account", #"{"id":"acme"}"#) == 201)
        for body in [
            #"{"id":"pricing","name":"Pricing","slug":"pricing_intent","filterql":"FILTER urls CONTAINS \"/pricing\""}"#,
            #"{"id":"nomkt","name":"No consent","slug":"no_marketing_consent","filterql":"FILTER marketing_consent == false"}"#,
            #"{"id":"pro","name":"Pro","slug":"pro_customers","filterql":"FILTER plan == \"pro\""}"#,
        ] { #expect(try await post("/api/segment?aid=acme", body) == 201) }
        #expect(try await post("/api/work?aid=acme", #"{"id":"hook","type":"webhook","name":"Hook","segments":["pricing_intent"],"fields":["plan"],"exclude_segment":"no_marketing_consent","destination":{"url":"http://127.0.0.1:\#(port)/hook","secret":"0123456789abcdef0123"}}"#) == 201)
        #expect(try await post("/api/work?aid=acme", #"{"id":"files","type":"file","name":"Files","segments":["pro_customers"],"fields":["plan","company"],"batch":{"max_users":100,"max_wait_s":0.2},"destination":{"dir":"\#(dir)","format":"csv"}}"#) == 201)
        for job in ["hook", "files"] {
            for _ in 0..<100 {
                if try await get(exporter.url + "/api/work/\(job)?aid=acme")["partitions"]?.arrayValue?.count == 4 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        // Six visitors browse with cookies; v1 signs up on a phone, then logs in on the laptop.
        var web = ""
        for v in 0..<6 { web += #"{"_uid":"cookie-\#(v)","url":"https://shop.example/\#(v < 3 ? "pricing" : "docs")"}"# + "\n" }
        web += #"{"_uid":"phone-1","email":"Ada <ADA@example.com>","url":"https://shop.example/signup"}"# + "\n"
        web += #"{"_uid":"cookie-1","email":"ada@example.com","url":"https://shop.example/account"}"# + "\n"
        #expect(try await post("/collect/json/web?aid=acme", web) == 200)
        #expect(try await post("/collect/bulk/crm?aid=acme", "email,plan,company\nada@example.com,pro,Initech\n", contentType: "text/csv") == 200)
        // v2 signs up too and withdraws consent, straight onto the topic.
        #expect(try await post("/collect/json/web?aid=acme", #"{"_uid":"cookie-2","email":"bo@example.com"}"#) == 200)
        // Bo's enter reaches the webhook before the consent record is produced: records that
        // arrive together are coalesced (only a profile's newest state is evaluated), so without
        // the wait Bo might never be seen entering at all.
        var boEntered = false
        for _ in 0..<100 {
            let bo = try await get(resolver.url + "/api/entity/user/email/bo@example.com?aid=acme")["id"]?.stringValue
            boEntered = bo != nil && hooks.withLock { $0.contains { $0["profile_id"]?.stringValue == bo && $0["action"] == "enter" } }
            if boEntered { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(boEntered)
        let consent = "acme\t{\"v\":1,\"aid\":\"acme\",\"stream\":\"consent\",\"data\":{\"email\":\"bo@example.com\",\"marketing_consent\":false}}\n"
        let produced = try await ChildProcess.run(kcat, ["-b", broker.bootstrap, "-P", "-t", "cdp.events", "-K", "\t", "-X", "partitioner=murmur2_random"], stdin: Data(consent.utf8))
        #expect(produced.status == 0)

        // Ada: two cookies and an email on one profile, with the CRM fields.
        var ada = JSONValue.null
        for _ in 0..<100 {
            ada = try await get(resolver.url + "/api/entity/user/email/ada@example.com?aid=acme")
            if ada["fields"]?["plan"] == "pro", ada["identities"]?["_uid"]?.arrayValue?.count == 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Set(ada["identities"]?["_uid"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["cookie-1", "phone-1"])
        #expect(ada["fields"]?["company"] == "Initech")
        // Sizes: 6 people; pricing = v0, v1 (Ada), v2 (Bo); Bo has no consent; Ada is pro.
        var sizes = JSONValue.null
        for _ in 0..<100 {
            sizes = try await get(segmenter.url + "/api/segment/sizes?aid=acme")
            if sizes["all_users"] == 6 && sizes["known_users"] == 2 && sizes["pricing"] == 3 && sizes["nomkt"] == 1 && sizes["pro"] == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sizes["all_users"] == 6 && sizes["known_users"] == 2 && sizes["pricing"] == 3 && sizes["nomkt"] == 1 && sizes["pro"] == 1)
        // The webhook: the pricing visitors entered; Bo left again when consent was withdrawn.
        var net: [String: Int] = [:]
        for _ in 0..<100 {
            net = [:]
            for e in hooks.withLock({ $0 }) {
                let id = e["profile_id"]?.stringValue ?? ""
                net[id, default: 0] += e["action"] == "enter" ? 1 : (e["action"] == "exit" ? -1 : 0)
            }
            if net.values.filter({ $0 == 1 }).count == 2, hooks.withLock({ $0.count }) >= 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let adaID = ada["id"]?.stringValue ?? "?"
        #expect(net.filter { $0.value == 1 }.keys.sorted() == [adaID, net.filter { $0.value == 1 && $0.key != adaID }.keys.first ?? "?"].sorted())
        #expect(net.values.filter { $0 == 0 }.count == 1)  // Bo: entered, then excluded
        // The file export: Ada's row with her plan and company.
        var rows: [String] = []
        for _ in 0..<100 {
            rows = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".csv") }.flatMap { f in
                ((try? String(contentsOfFile: dir + "/" + f, encoding: .utf8)) ?? "").components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            }
            if !rows.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rows.count == 1 && rows.first?.contains(",\(adaID),pro_customers,enter,") == true && rows.first?.hasSuffix(",pro,Initech") == true)
        for d in [exporter, segmenter, resolver] { #expect(await d.stop() == 0) }
        #expect(await collector.stop() == 0)
        #expect(await broker.stop() == 0)
    }
}
