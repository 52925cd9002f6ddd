import Foundation
import HTTP
import Log
import Model
import Runtime
@testable import Segmenter
import Testing

let segToken = "segmenter-admin-token-0123456789"

final class Clock: @unchecked Sendable {
    let now = Locked<Int64>(1_795_953_600_000)
    func advance(_ ms: Int64) { now.withLock { $0 += ms } }
    var value: Int64 { now.withLock { $0 } }
}

func segmentDoc(_ id: String, _ slug: String, _ filter: String, version: Int64 = 1) -> ProducerRecord {
    let key = ConfigKey(account: "acme", kind: "segment", id: id)
    let doc = ConfigDocument(key: key, version: version, createdMs: 1, updatedMs: 1, updatedBy: "admin",
                             body: ["slug": .string(slug), "name": .string(slug), "filterql": .string(filter)])
    return ProducerRecord(topic: "cdp.config", key: Array(key.description.utf8), value: doc.json.serializedBytes(), partition: 0)
}

func profileRecord(_ id: String, version: Int64, fields: [String: JSONValue], types: [String: String] = [:], deleted: Bool = false,
                   unhealthy: Bool = false) -> ProducerRecord {
    var value: [String: JSONValue] = ["v": 1, "aid": "acme", "id": .string(id), "version": .int(version), "meta": ["unhealthy": .bool(unhealthy)]]
    if deleted { value["deleted"] = true } else {
        value["fields"] = .object(fields)
        value["types"] = .object(types.mapValues(JSONValue.string))
        value["identities"] = ["_uid": .array([.string("c-\(id)")])]
    }
    return ProducerRecord(topic: "cdp.profiles", key: Array("acme/\(id)".utf8), value: JSONValue.object(value).serializedBytes())
}

func memberships(_ log: InMemoryLog) -> [JSONValue] {
    (0..<4).flatMap { log.records(TopicPartition("cdp.memberships", Int32($0))) }.compactMap { try? JSONParser().parse($0.value ?? []) }
}

func transitions(_ log: InMemoryLog, profile: String) -> [String] {
    memberships(log).filter { $0["profile"]?.stringValue == profile }.flatMap { m in
        (m["transitions"]?.arrayValue ?? []).map { "\($0["action"]!.stringValue!) \($0["segment"]!.stringValue!)" }
    }
}

@Suite(.serialized) struct SegmenterServiceTests {
    /// Two replicas share the profiles' partitions; when one leaves, the other takes its
    /// partitions over. What the leaver published after the other replica started must count:
    /// an exit that follows an enter the leaver announced is announced, and nothing is repeated.
    @Test func partitionsTakenOverFromAnotherReplica_announceExactlyTheMissingTransitions() async throws {
        let log = InMemoryLog(defaultPartitions: 4)
        try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions) })
        let producer = try log.makeProducer(ProducerOptions())
        let clock = Clock()
        _ = try await producer.send(segmentDoc("s1", "us", "FILTER country == \"US\""))
        let ids = (1...12).map { "p\($0)" }
        for id in ids { _ = try await producer.send(profileRecord(id, version: 1, fields: ["country": "FR"])) }
        var settings = SegmenterSettings()
        settings.adminToken = segToken
        settings.sessionTimeoutMs = 1000
        func start(_ name: String) throws -> (SegmenterApp, [Task<Void, Error>]) {
            var s = settings
            s.instanceID = name
            let app = try SegmenterApp(client: log, settings: s, logger: Logger(label: name, level: .error, sink: MemorySink()),
                                       metrics: MetricsRegistry(), clock: { clock.value })
            return (app, app.services.map { service in Task { try await service.run() } })
        }
        func wait(_ condition: () -> Bool) async throws { for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(50)) } }
        /// Each profile's transitions, from one read of cdp.memberships (parsing it per profile
        /// and per check kept a core busy, starving tests running beside this one).
        func byProfile() -> [String: [String]] {
            var out: [String: [String]] = [:]
            for m in memberships(log) {
                guard let profile = m["profile"]?.stringValue else { continue }
                out[profile, default: []] += (m["transitions"]?.arrayValue ?? []).map { "\($0["action"]!.stringValue!) \($0["segment"]!.stringValue!)" }
            }
            return out
        }
        func count(_ t: String) -> Int {
            let all = byProfile()
            return ids.filter { all[$0]?.contains(t) == true }.count
        }

        let (a, aTasks) = try start("a")
        try await wait { a.readiness == .ready && count("enter all_users") == 12 }
        let (b, bTasks) = try start("b")
        defer { for t in bTasks.reversed() { t.cancel() } }
        try await wait { b.readiness == .ready && a.readiness == .ready }
        try await Task.sleep(for: .milliseconds(300))
        // Both own partitions now; every profile enters "us" (announced by its owner).
        for id in ids { _ = try await producer.send(profileRecord(id, version: 2, fields: ["country": "US"])) }
        try await wait { count("enter s1") == 12 }
        // a leaves: b takes its partitions over, rebuilds them, and sees every profile leave "us".
        for t in aTasks.reversed() { t.cancel(); _ = try? await t.value }
        try await Task.sleep(for: .milliseconds(300))
        try await wait { b.readiness == .ready }
        func api(_ path: String) async throws -> JSONValue? {
            let r = await b.router.handle(HTTPRequest(method: "GET", target: path, headers: HTTPHeaders([("Authorization", segToken)])))
            return try JSONParser().parse(r.body)["data"]
        }
        // b answers for every partition now: the size, and the history a's enters are part of.
        try await wait { b.states.withLock { $0.values.reduce(0) { $0 + $1.memberships.size(of: "s1") } } == 12 }
        #expect(try await api("/api/segment/s1/size?aid=acme")?["size"] == 12)
        #expect(try await api("/api/segment/sizes?aid=acme")?["s1"] == 12)
        #expect(try await api("/api/segment/s1/history?aid=acme")?["size"] == 12)
        #expect(try await api("/api/segment/s1/members?aid=acme&limit=1000")?["members"]?.arrayValue?.count == 12)
        let badLimit = await b.router.handle(HTTPRequest(method: "GET", target: "/api/segment/s1/members?aid=acme&limit=1001",
                                                         headers: HTTPHeaders([("Authorization", segToken)])))
        #expect(badLimit.status == 400)
        #expect(try JSONParser().parse(badLimit.body)["message"] == "limit must be a whole number from 1 to 1000, not '1001'")
        // An id that names no audience is not an empty one.
        for path in ["/api/segment/s2/size?aid=acme", "/api/segment/s2/members?aid=acme"] {
            let unknown = await b.router.handle(HTTPRequest(method: "GET", target: path, headers: HTTPHeaders([("Authorization", segToken)])))
            #expect(unknown.status == 404)
            #expect(try JSONParser().parse(unknown.body)["message"] == "no audience 's2' in account 'acme'")
        }
        #expect(try await api("/api/segment/all_users/size?aid=acme")?["size"] == 12)
        for id in ids { _ = try await producer.send(profileRecord(id, version: 3, fields: ["country": "FR"])) }
        try await wait { count("exit s1") == 12 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(count("exit s1") == 12)
        #expect(try await api("/api/segment/s1/history?aid=acme")?["size"] == 0)
        #expect(try await api("/api/segment/s1/size?aid=acme")?["size"] == 0)
        let all = byProfile()
        #expect(ids.allSatisfy { id in all[id, default: []].filter { $0 == "enter s1" }.count == 1 && all[id, default: []].filter { $0 == "exit s1" }.count == 1 })
        #expect(ids.allSatisfy { id in all[id, default: []].filter { $0 == "enter all_users" }.count == 1 })
    }

    @Test func profilesEnterAndExitAudiences_timeWindowsFlipOnTime_deletesExit_andNewAudiencesBackfill() async throws {
        let log = InMemoryLog(defaultPartitions: 4)
        try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions) })
        let producer = try log.makeProducer(ProducerOptions())
        let clock = Clock()
        for r in [segmentDoc("s1", "us", "FILTER country == \"US\""), segmentDoc("s2", "recent", "FILTER last_visit > \"now-3d\"")] {
            _ = try await producer.send(r)
        }
        let visit = Timestamp.rfc3339Millis(epochMs: clock.value - 86_400_000)
        _ = try await producer.send(profileRecord("p1", version: 1, fields: ["country": "US", "last_visit": .string(visit)], types: ["last_visit": "time"]))
        _ = try await producer.send(profileRecord("p2", version: 1, fields: ["country": "FR"]))

        var settings = SegmenterSettings()
        settings.adminToken = segToken
        let app = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                   metrics: MetricsRegistry(), clock: { clock.value })
        let tasks = app.services.map { s in Task { try await s.run() } }
        func wait(_ condition: () -> Bool) async throws { for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) } }
        try await wait { app.readiness == .ready && transitions(log, profile: "p1").count >= 4 }
        // No email: the built-in anonymous_users applies too.
        #expect(Set(transitions(log, profile: "p1")) == ["enter s1", "enter s2", "enter all_users", "enter anonymous_users"])
        #expect(Set(transitions(log, profile: "p2")) == ["enter all_users", "enter anonymous_users"])
        try await Task.sleep(for: .milliseconds(200))
        // Each enter is published once (the post-rebuild reconciliation repeats nothing).
        #expect(transitions(log, profile: "p1").count == 4)

        let sizes = await app.router.handle(HTTPRequest(method: "GET", target: "/api/segment/sizes?aid=acme", headers: HTTPHeaders([("Authorization", segToken)])))
        #expect(try JSONParser().parse(sizes.body)["data"]?["s1"] == 1)

        let preview = await app.router.handle(HTTPRequest(method: "POST", target: "/api/segment/preview?aid=acme", headers: HTTPHeaders([("Authorization", segToken)]),
                                                          body: Array(#"{"filterql":"FILTER OR (INCLUDE us, country == \"FR\")"}"#.utf8)))
        let previewData = try JSONParser().parse(preview.body)["data"]
        #expect(previewData?["size"] == 2 && previewData?["profiles"] == 2 && previewData?["sample"] == ["p1", "p2"])
        let badPreview = await app.router.handle(HTTPRequest(method: "POST", target: "/api/segment/preview?aid=acme", headers: HTTPHeaders([("Authorization", segToken)]),
                                                             body: Array(#"{"filterql":"FILTER x =="}"#.utf8)))
        #expect(badPreview.status == 400)
        #expect(try JSONParser().parse(badPreview.body)["message"]?.stringValue?.hasPrefix("filterql: line 1, column ") == true)
        let strayPreview = await app.router.handle(HTTPRequest(method: "POST", target: "/api/segment/preview?aid=acme", headers: HTTPHeaders([("Authorization", segToken)]),
                                                               body: Array(#"{"filterql":"FILTER *","limit":5}"#.utf8)))
        #expect(try JSONParser().parse(strayPreview.body)["message"] == #"unknown member "limit" (a preview has filterql, rules)"#)

        // Two days later p1's last visit leaves the 3-day window, with no new event.
        clock.advance(2 * 86_400_000 + 1)
        try await wait { transitions(log, profile: "p1").contains("exit s2") }
        #expect(transitions(log, profile: "p1").last == "exit s2")
        let history = await app.router.handle(HTTPRequest(method: "GET", target: "/api/segment/s2/history?aid=acme", headers: HTTPHeaders([("Authorization", segToken)])))
        let h = try JSONParser().parse(history.body)["data"]
        #expect(h?["size"] == 0)
        #expect(h?["hourly"]?.arrayValue?.compactMap { $0["size"]?.intValue } == [1, 0])
        #expect(h?["change_7d"] == 0)

        // A new audience is evaluated against every profile (backfill).
        _ = try await producer.send(segmentDoc("s3", "french", "FILTER country == \"FR\""))
        try await wait { transitions(log, profile: "p2").contains("enter s3") }
        #expect(transitions(log, profile: "p2").contains("enter s3"))

        // A profile flagged unhealthy leaves every audience; healthy again, it comes back.
        _ = try await producer.send(profileRecord("p2", version: 2, fields: ["country": "FR"], unhealthy: true))
        try await wait { transitions(log, profile: "p2").contains("exit all_users") }
        #expect(Set(transitions(log, profile: "p2").suffix(3)) == ["exit all_users", "exit anonymous_users", "exit s3"])

        // A deleted (or merged-away) profile exits everything.
        _ = try await producer.send(profileRecord("p1", version: 2, fields: [:], deleted: true))
        try await wait { transitions(log, profile: "p1").contains("exit s1") }
        #expect(Set(transitions(log, profile: "p1").suffix(3)) == ["exit s1", "exit all_users", "exit anonymous_users"])
        for t in tasks.reversed() { t.cancel(); _ = try? await t.value }

        // A restart re-announces nothing: everything published already matches the rebuilt state.
        let before = memberships(log).count
        let again = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                     metrics: MetricsRegistry(), clock: { clock.value })
        let tasks2 = again.services.map { s in Task { try await s.run() } }
        try await wait { again.readiness == .ready }
        try await Task.sleep(for: .milliseconds(300))
        #expect(memberships(log).count == before)
        // Time passes while it is down: the flip is published after the restart, once.
        for t in tasks2.reversed() { t.cancel(); _ = try? await t.value }
        _ = try await producer.send(profileRecord("p3", version: 1, fields: ["last_visit": .string(Timestamp.rfc3339Millis(epochMs: clock.value))], types: ["last_visit": "time"]))
        let third = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                     metrics: MetricsRegistry(), clock: { clock.value })
        let tasks3 = third.services.map { s in Task { try await s.run() } }
        try await wait { transitions(log, profile: "p3").contains("enter s2") }
        for t in tasks3.reversed() { t.cancel(); _ = try? await t.value }
        clock.advance(4 * 86_400_000)
        let fourth = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                      metrics: MetricsRegistry(), clock: { clock.value })
        let tasks4 = fourth.services.map { s in Task { try await s.run() } }
        try await wait { transitions(log, profile: "p3").contains("exit s2") }
        try await Task.sleep(for: .milliseconds(300))
        #expect(transitions(log, profile: "p3").filter { $0 == "exit s2" }.count == 1)
        for t in tasks4.reversed() { t.cancel(); _ = try? await t.value }
    }
}

@Suite(.serialized) struct SegmenterSnapshotTests {
    @Test func restartsFromSnapshots_timeWindowsSurvive_andCorruptFilesAreIgnored() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdp-seg-snap-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = InMemoryLog(defaultPartitions: 4)
        try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions) })
        let producer = try log.makeProducer(ProducerOptions())
        let clock = Clock()
        _ = try await producer.send(segmentDoc("s1", "us", "FILTER country == \"US\""))
        _ = try await producer.send(segmentDoc("s2", "recent", "FILTER last_visit > \"now-3d\""))
        let visit = Timestamp.rfc3339Millis(epochMs: clock.value - 86_400_000)
        for i in 1...8 {
            _ = try await producer.send(profileRecord("p\(i)", version: 1, fields: ["country": i % 2 == 0 ? "US" : "FR", "last_visit": .string(visit)], types: ["last_visit": "time"]))
        }
        var settings = SegmenterSettings()
        settings.adminToken = segToken
        settings.dataDirectory = dir
        func run(_ body: (SegmenterApp) async throws -> Void) async throws {
            let app = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                       metrics: MetricsRegistry(), clock: { clock.value })
            let tasks = app.services.map { s in Task { try await s.run() } }
            for _ in 0..<500 where app.readiness != .ready { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            try await body(app)
            for t in tasks.reversed() { t.cancel(); _ = try? await t.value }
        }
        try await run { _ in }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".snapshot") }
        #expect(!files.isEmpty)
        let published = memberships(log).count

        // Restored: nothing re-announced; sizes are right before any new record arrives.
        try await run { app in
            #expect(app.snapshots.restored.current == UInt64(files.count))
            #expect(memberships(log).count == published)
            let sizes = await app.router.handle(HTTPRequest(method: "GET", target: "/api/segment/sizes?aid=acme", headers: HTTPHeaders([("Authorization", segToken)])))
            let data = try JSONParser().parse(sizes.body)["data"]
            #expect(data?["s1"] == 4 && data?["s2"] == 8)
        }
        // Time passes while it is down: the restored flip times still close the window, once each.
        clock.advance(3 * 86_400_000)
        try await run { _ in
            for _ in 0..<300 where (1...8).contains(where: { !transitions(log, profile: "p\($0)").contains("exit s2") }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect((1...8).allSatisfy { transitions(log, profile: "p\($0)").filter { $0 == "exit s2" }.count == 1 })
        }
        // A corrupt snapshot is ignored: that partition rebuilds from the log; nothing repeats.
        try Data("{\"v\":1,\"trunc".utf8).write(to: URL(fileURLWithPath: dir + "/" + files[0]))
        let before = memberships(log).count
        try await run { app in
            #expect(app.snapshots.rejected.current == 1)
            #expect(memberships(log).count == before)
        }
    }
}
