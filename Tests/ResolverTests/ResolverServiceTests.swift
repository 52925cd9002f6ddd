import Foundation
import IdentityCore
import HTTP
import Log
import Model
import Pipeline
@testable import Resolver
import Runtime
import Testing

let resolverToken = "resolver-admin-token-0123456789"

/// A resolver on an in-memory log.
final class ResolverRun: @unchecked Sendable {
    let app: ResolverApp
    let tasks: [Task<Void, Error>]

    init(log: InMemoryLog, dataDirectory: String? = nil, threads: Int? = nil) throws {
        var settings = ResolverSettings()
        if let threads { settings.threads = threads }
        settings.adminToken = resolverToken
        settings.dataDirectory = dataDirectory
        settings.snapshotIntervalMs = 0
        app = try ResolverApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()), metrics: MetricsRegistry())
        tasks = app.services.map { s in Task { try await s.run() } }
    }

    func waitReady() async throws {
        for _ in 0..<400 {
            if app.readiness == .ready { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailureError("resolver not ready: \(app.readiness)")
    }

    func stop() async {
        for t in tasks.reversed() {
            t.cancel()
            _ = try? await t.value
        }
    }
}

struct TestFailureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func makeLog() async throws -> InMemoryLog {
    let log = InMemoryLog(defaultPartitions: 4)
    try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions) })
    return log
}

func send(_ log: InMemoryLog, _ events: [EventRecord]) async throws {
    let p = try log.makeProducer(ProducerOptions())
    for e in events { _ = try await p.send(ProducerRecord(topic: "cdp.events", key: Array(e.account.utf8), value: e.serialized())) }
}

/// The latest record per key on cdp.profiles (the compacted view).
func profilesView(_ log: InMemoryLog) -> [String: String] {
    var view: [String: String] = [:]
    for p in 0..<4 {
        for r in log.records(TopicPartition("cdp.profiles", Int32(p))) { view[r.keyString ?? ""] = r.valueString ?? "" }
    }
    return view
}

func webEvents(_ range: Range<Int>) -> [EventRecord] {
    range.map { i in
        var data: [String: JSONValue] = ["_uid": .string("c\(i % 7)"), "url": .string("/p\(i % 3)")]
        if i % 5 == 4 { data["email"] = .string("user\(i % 3)@x.com") }
        return EventRecord(account: "acme", stream: "web", id: "e\(i)", timestampMs: 1_795_000_000_000 + Int64(i) * 60_000, data: data)
    }
}

func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) } // up to 10 s on a loaded machine
}

@Suite(.serialized) struct ResolverServiceTests {
    @Test func eventsBecomeProfiles_mergesPublishDeletedRecords_andTheAPIFindsThem() async throws {
        let log = try await makeLog()
        try await send(log, [
            EventRecord(account: "acme", stream: "web", id: "1", timestampMs: 1000, data: ["_uid": "c1", "url": "/pricing"]),
            EventRecord(account: "acme", stream: "web", id: "2", timestampMs: 2000, data: ["_uid": "c2"]),
            EventRecord(account: "acme", stream: "web", id: "3", timestampMs: 3000, data: ["_uid": "c2", "email": "ada@x.com"]),
            EventRecord(account: "acme", stream: "web", id: "4", timestampMs: 4000, data: ["_uid": "c1", "email": "ada@x.com"]),
        ])
        let run = try ResolverRun(log: log)
        try await run.waitReady()
        try await waitUntil { profilesView(log).count >= 2 }
        let view = profilesView(log)
        let live = try view.values.map { try JSONParser().parse($0) }.filter { $0["deleted"] == nil }
        let deleted = try view.values.map { try JSONParser().parse($0) }.filter { $0["deleted"] == .bool(true) }
        #expect(live.count == 1)
        #expect(deleted.count == 1)
        #expect(Set(live[0]["identities"]?["_uid"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["c1", "c2"])
        #expect(deleted[0]["merged_into"] == live[0]["id"])
        // Each record's key is `<aid>/<id>` of the profile it carries, deleted records included.
        for (key, value) in view {
            let j = try JSONParser().parse(value)
            #expect(key == "acme/" + (j["id"]?.stringValue ?? "?"))
        }

        let response = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/email/ada@x.com?fields=urls&aid=acme",
                                                               headers: HTTPHeaders([("Authorization", "Bearer \(resolverToken)"), ("Host", "t")])))
        #expect(response.status == 200)
        let body = try JSONParser().parse(response.body)
        #expect(body["data"]?["fields"] == ["urls": ["/pricing"]])
        let explained = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/_uid/c1?explain=true&aid=acme",
                                                                headers: HTTPHeaders([("Authorization", resolverToken)])))
        let explain = try JSONParser().parse(explained.body)["data"]?["explain"]
        #expect(explain?["urls"]?["stream"] == "web")
        #expect(explain?["urls"]?["event_time"] == "1970-01-01T00:16:40.000Z") // ts 1000 reads as epoch seconds
        let missing = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/email/nobody@x.com", headers: HTTPHeaders([("Authorization", resolverToken)])))
        #expect(missing.status == 404)
        // Identity values holding a slash are looked up with it encoded.
        let slashed = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/email/ada%40x.com%2F?aid=acme", headers: HTTPHeaders([("Authorization", resolverToken)])))
        #expect(try JSONParser().parse(slashed.body)["message"] == "no profile with email = ada@x.com/ in account 'acme'")
        let notAKey = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/phone/123?aid=acme", headers: HTTPHeaders([("Authorization", resolverToken)])))
        #expect(notAKey.status == 404)
        #expect(try JSONParser().parse(notAKey.body)["message"] == "no profile with phone = 123 in account 'acme' (phone is not an identity key; the account's are user_id, email, _uid)")
        let stats = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/identity/stats?aid=acme", headers: HTTPHeaders([("Authorization", resolverToken)])))
        #expect(try JSONParser().parse(stats.body)["data"]?["keys"]?["_uid"]?["merges"] == 2)
        // Options in a form the API does not read are refused with the reason, not ignored.
        func get(_ target: String) async throws -> (status: Int, json: JSONValue) {
            let r = await run.app.router.handle(HTTPRequest(method: "GET", target: target, headers: HTTPHeaders([("Authorization", resolverToken)])))
            return (r.status, try JSONParser().parse(r.body))
        }
        #expect(try await get("/api/stream/web/events?aid=acme&limit=2").json["data"]?.arrayValue?.count == 2)
        let badLimit = try await get("/api/stream/web/events?aid=acme&limit=abc")
        #expect(badLimit.status == 400 && badLimit.json["message"] == "limit must be a whole number from 1 to 20, not 'abc'")
        #expect(try await get("/api/stream/web/events?aid=acme&limit=0").status == 400)
        let badExplain = try await get("/api/entity/user/_uid/c1?explain=yes&aid=acme")
        #expect(badExplain.status == 400 && badExplain.json["message"] == "explain must be true or false, not 'yes'")
        await run.stop()
    }

    @Test func deletionCommand_erasesTheProfileAndItsIdentifiers() async throws {
        let log = try await makeLog()
        try await send(log, [
            EventRecord(account: "acme", stream: "web", id: "1", timestampMs: 1000, data: ["_uid": "c1", "email": "ada@x.com"]),
            EventRecord(account: "acme", stream: "web", id: "2", timestampMs: 1000, data: ["_uid": "c2", "email": "Bob@X.com"]),
        ])
        let run = try ResolverRun(log: log)
        try await run.waitReady()
        let auth = HTTPHeaders([("Authorization", resolverToken)])
        try await waitUntil { profilesView(log).count == 2 }
        // The mapping stored the email as email() makes it; the API finds it by the value as sent.
        let bob = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/email/BOB@x.com?aid=acme", headers: auth))
        #expect(try JSONParser().parse(bob.body)["data"]?["identities"]?["email"] == ["bob@x.com"])
        // A deletion request in any casing of the address erases the person.
        try await send(log, [
            EventRecord(account: "acme", stream: "_commands", id: "del_1", timestampMs: 2000,
                        data: ["command": "delete", "field": "email", "value": "ada@x.com", "request_id": "del_1"]),
            EventRecord(account: "acme", stream: "_commands", id: "del_2", timestampMs: 2000,
                        data: ["command": "delete", "field": "email", "value": "Bob@X.COM", "request_id": "del_2"]),
        ])
        try await waitUntil { profilesView(log).values.filter { $0.contains("\"deleted\":true") }.count == 2 }
        for (key, value) in profilesView(log) { #expect(key == "acme/" + (try JSONParser().parse(value)["id"]?.stringValue ?? "?")) }
        #expect(await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/_uid/c1?aid=acme", headers: auth)).status == 404)
        #expect(await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/user/_uid/c2?aid=acme", headers: auth)).status == 404)
        let status = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/deletion/del_1?aid=acme", headers: auth))
        #expect(try JSONParser().parse(status.body)["data"]?["status"] == "done")
        let status2 = try JSONParser().parse(await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/deletion/del_2?aid=acme", headers: auth)).body)
        #expect(status2["data"]?["status"] == "done")
        #expect(status2["data"]?["profiles"]?.arrayValue?.count == 1)
        #expect(status2["data"]?["profile"] == status2["data"]?["profiles"]?.arrayValue?.first)
        let pending = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/deletion/del_9?aid=acme", headers: auth))
        #expect(try JSONParser().parse(pending.body)["data"]?["status"] == "pending")
        for never in ["nope", "del_", "del_XYZ", "evt_1"] {
            let unknown = await run.app.router.handle(HTTPRequest(method: "GET", target: "/api/entity/deletion/\(never)?aid=acme", headers: auth))
            #expect(unknown.status == 404, "\(never)")
        }
        #expect(profilesView(log).values.allSatisfy { $0.contains("\"deleted\":true") })
        await run.stop()
    }

    @Test func badEvents_goToTheDeadLetterTopic_andProcessingContinues() async throws {
        let log = try await makeLog()
        let p = try log.makeProducer(ProducerOptions())
        _ = try await p.send(ProducerRecord(topic: "cdp.events", key: "acme", value: "not json"))
        try await send(log, [EventRecord(account: "acme", stream: "web", id: "1", timestampMs: 1000, data: ["_uid": "c1"])])
        let run = try ResolverRun(log: log)
        try await run.waitReady()
        try await waitUntil { profilesView(log).count == 1 }
        let dead = (0..<4).flatMap { log.records(TopicPartition("cdp.deadletter", Int32($0))) }
        #expect(dead.count == 1)
        #expect(dead.first?.valueString?.contains("\"original\":\"not json\"") == true)
        #expect(profilesView(log).count == 1)
        await run.stop()
    }

    /// A profile grown past the log's maximum message size cannot be published: its record goes
    /// to cdp.deadletter (with an excerpt), other profiles go on being published, and offsets go
    /// on being committed (retrying could never succeed; holding them back stopped every commit).
    @Test func profilesTooLargeToPublish_goToTheDeadLetterTopic_andCommitsContinue() async throws {
        let log = try await makeLog()
        // 110 distinct 10 kB URL paths for one visitor: the `urls` set passes 1 MB.
        var events = (0..<110).map { i in
            EventRecord(account: "acme", stream: "web", id: "big\(i)", timestampMs: 1_795_000_000_000 + Int64(i),
                        data: ["_uid": "heavy", "url": .string("https://x.com/\(i)-" + String(repeating: "p", count: 10_000))])
        }
        events.append(EventRecord(account: "acme", stream: "web", id: "small", timestampMs: 1_795_000_001_000, data: ["_uid": "light"]))
        try await send(log, events)
        let run = try ResolverRun(log: log)
        try await run.waitReady()
        let group = try log.makeConsumer(ConsumerOptions(groupID: ResolverSettings().groupID))
        let partitions = (0..<4).map { TopicPartition("cdp.events", Int32($0)) }
        let end = partitions.reduce(into: [TopicPartition: Int64]()) { $0[$1] = Int64(log.records($1).count) }.filter { $0.value > 0 }
        var committed: [TopicPartition: Int64] = [:]
        for _ in 0..<1500 {
            committed = try await group.committed(Array(end.keys))
            if committed == end { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(committed == end)
        let dead = (0..<4).flatMap { log.records(TopicPartition("cdp.deadletter", Int32($0))) }.compactMap { try? JSONParser().parse($0.value ?? []) }
        #expect(!dead.isEmpty && dead.allSatisfy { $0["source"]?["topic"] == "cdp.profiles" && ($0["reason"]?.stringValue ?? "").contains("MSG_SIZE_TOO_LARGE") })
        #expect(dead.allSatisfy { ($0["original"]?.stringValue?.utf8.count ?? 0) <= 64 * 1024 })
        let published = profilesView(log).values
        #expect(published.contains { $0.contains("\"light\"") })
        // The metrics count profile records and refused ones apart from the dead letters.
        let written = (0..<4).reduce(0) { $0 + log.records(TopicPartition("cdp.profiles", Int32($1))).count }
        #expect(run.app.profilesPublished.current == UInt64(written) && run.app.unpublishable.current == UInt64(dead.count))
        #expect(published.allSatisfy { $0.utf8.count <= 1_000_000 })
        await run.stop()
    }

    @Test func snapshots_restoreAtRestart_andCorruptOnesAreIgnored() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdp-snap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try await makeLog()
        try await send(log, webEvents(0..<80))
        let first = try ResolverRun(log: log, dataDirectory: dir)
        try await first.waitReady()
        try await Task.sleep(for: .milliseconds(300))
        await first.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".snapshot") }
        #expect(!files.isEmpty)
        let before = profilesView(log)

        try await send(log, webEvents(80..<120))
        let second = try ResolverRun(log: log, dataDirectory: dir)
        try await second.waitReady()
        try await Task.sleep(for: .milliseconds(300))
        let restored = second.app.metricsText.contains("resolver_snapshots_restored_total 1")
        await second.stop()
        #expect(restored)

        // The same log without snapshots gives the same view.
        let reference = try await makeLog()
        try await send(reference, webEvents(0..<120))
        let plain = try ResolverRun(log: reference)
        try await plain.waitReady()
        try await Task.sleep(for: .milliseconds(300))
        await plain.stop()
        #expect(profilesView(log) == profilesView(reference))
        #expect(profilesView(log) != before)

        // A damaged snapshot is ignored: the partition is rebuilt from the log.
        for f in files { try Data("{\"v\":1,\"truncated".utf8).write(to: URL(fileURLWithPath: dir + "/" + f)) }
        let third = try ResolverRun(log: log, dataDirectory: dir)
        try await third.waitReady()
        let rejected = third.app.metricsText.contains("resolver_snapshots_rejected_total") && !third.app.metricsText.contains("resolver_snapshots_rejected_total 0")
        let stats = await third.app.router.handle(HTTPRequest(method: "GET", target: "/api/identity/stats?aid=acme", headers: HTTPHeaders([("Authorization", resolverToken)])))
        await third.stop()
        #expect(rejected)
        #expect(try JSONParser().parse(stats.body)["data"]?["profiles"]?.intValue ?? 0 > 0)
    }

    @Test func restartMidStream_endsWithTheSameProfiles_asARunWithoutTheKill() async throws {
        // Reference: one uninterrupted run.
        let reference = try await makeLog()
        try await send(reference, webEvents(0..<120))
        let one = try ResolverRun(log: reference)
        try await one.waitReady()
        try await waitUntil { one.app.metricsText.contains("resolver_events_total 120") }
        try await Task.sleep(for: .milliseconds(300)) // the last batch's records reach the log
        await one.stop()

        // Interrupted: part of the stream, stop, the rest, restart with the same group.
        let log = try await makeLog()
        try await send(log, webEvents(0..<50))
        let first = try ResolverRun(log: log)
        try await first.waitReady()
        try await Task.sleep(for: .milliseconds(300))
        await first.stop()
        try await send(log, webEvents(50..<120))
        let second = try ResolverRun(log: log)
        try await second.waitReady()
        let expected = profilesView(reference)
        try await waitUntil { profilesView(log) == expected }
        await second.stop()

        #expect(profilesView(log) == expected)
        #expect(!profilesView(log).isEmpty)
    }

    /// Accounts are resolved by several threads at once; the output is what one thread gives.
    @Test func severalThreads_publishWhatOneThreadPublishes() async throws {
        let events = (0..<1500).map { i -> EventRecord in
            var data: [String: JSONValue] = ["_uid": .string("c\(i % 37)"), "url": .string("/p\(i % 5)")]
            if i % 4 == 3 { data["email"] = .string("user\(i % 11)@x.com") }
            return EventRecord(account: "acct\(i % 23)", stream: "web", id: "e\(i)", timestampMs: 1_795_000_000_000 + Int64(i) * 1000, data: data)
        }
        var views: [[String: String]] = []
        for threads in [1, 4] {
            let log = try await makeLog()
            try await send(log, events)
            let run = try ResolverRun(log: log, threads: threads)
            try await run.waitReady()
            try await waitUntil { run.app.metricsText.contains("resolver_events_total 1500") }
            // Consumer lag per partition of cdp.events, down to 0 once everything is read.
            let caughtUp = { () -> Bool in
                let lines = run.app.metricsText.split(separator: "\n").filter { $0.hasPrefix("resolver_consumer_lag_records{") }
                return !lines.isEmpty && lines.allSatisfy { $0.contains("topic=\"cdp.events\"") && $0.hasSuffix(" 0") }
            }
            try await waitUntil(caughtUp)
            #expect(caughtUp(), "\(run.app.metricsText)")
            try await Task.sleep(for: .milliseconds(200))
            await run.stop()
            views.append(profilesView(log))
        }
        #expect(views[0].count > 23)
        #expect(views[0] == views[1])
    }
}
