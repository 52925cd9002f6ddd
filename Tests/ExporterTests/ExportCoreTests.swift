import ExportCore
import Runtime
import Testing

let webhookJob: [String: JSONValue] = [
    "type": "webhook", "name": "CRM", "segments": ["vip", "known_users"],
    "destination": ["url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef0123"],
]

func job(_ patch: [String: JSONValue] = [:]) throws(JobError) -> ExportJob {
    var body = webhookJob
    for (k, v) in patch { body[k] = v }
    return try ExportJob.parse(body, id: "j1", account: "acme")
}

struct ExportJobTests {
    static let invalid: [([String: JSONValue], String)] = [
        (["type": "ftp"], "\"type\""),
        (["name": ""], "\"name\""),
        (["segments": []], "at least one audience"),
        (["segments": .array(Array(repeating: .string("a"), count: 101))], "at most 100"),
        (["trigger_fields": .array((0..<76).map { .string("f\($0)") })], "\"trigger_fields\" must be an array of at most 75"),
        (["batch": ["max_users": 0]], "batch.max_users"),
        (["batch": ["max_wait_s": -1]], "batch.max_wait_s"),
        (["batch": ["every": 3]], "unknown setting"),
        (["destination": ["url": "ftp://x"]], "destination.url"),
        (["destination": ["url": "http://x/h", "secret": "short"]], "destination.secret"),
        (["destination": ["url": "http://x/h", "headers": ["X-CDP-Signature": "forged"]]], "set by the exporter"),
        (["destination": ["url": "http://x/h", "headers": ["X-Ok": "a\r\nb"]]], "single-line"),
        (["exclude_segment": "vip"], "also one of"),
        (["existing_users": "yes"], "true or false"),
        (["alert_url": "mailto:x"], "alert_url"),
        (["type": "file", "destination": ["dir": "relative/path"]], "absolute directory"),
        (["type": "file", "destination": ["dir": "/tmp/../etc"]], "absolute directory"),
        (["type": "file", "destination": ["dir": "/tmp/x", "format": "xml"]], "csv"),
    ]

    @Test(arguments: invalid.indices) func refusesBadDefinitions(_ i: Int) {
        let (patch, message) = Self.invalid[i]
        #expect(throws: JobError.self) { try job(patch) }
        do throws(JobError) { _ = try job(patch) } catch { #expect(error.message.contains(message), "\(error.message)") }
    }

    /// With CDP_EXPORT_FILE_ROOT an account's file exports stay in its own folder of the root.
    @Test(arguments: [
        ("/srv/exports", "/srv/exports/acme", true),
        ("/srv/exports", "/srv/exports/acme/nightly/csv", true),
        ("/srv/exports", "/srv/exports/./acme/x", true),
        ("/srv/exports", "/srv/exports//acme", true),
        ("/srv/exports", "/srv/exports", false),
        ("/srv/exports", "/srv/exports/other/x", false),
        ("/srv/exports", "/srv/exports/acme-evil", false),
        ("/srv/exports", "/etc/cron.d", false),
        ("/", "/acme/x", true),
        ("/", "/tmp/x", false),
    ])
    func fileRoot_confinesEachAccount(root: String, dir: String, allowed: Bool) {
        var body = webhookJob
        body["type"] = "file"
        body["destination"] = ["dir": .string(dir)]
        do throws(JobError) {
            let j = try ExportJob.parse(body, id: "j1", account: "acme", policy: DestinationPolicy(fileRoot: root))
            #expect(allowed && j.destination == .file(dir: dir, format: .csv), "\(dir)")
        } catch {
            #expect(!allowed, "\(dir): \(error.message)")
            #expect(error.message.contains("must be inside \(root == "/" ? "" : root)/acme"), "\(error.message)")
        }
    }

    /// With CDP_EXPORT_ALLOWED_HOSTS webhooks and alerts go only to listed hosts (the URL's
    /// real host: a user name before `@` does not count).
    @Test(arguments: [
        ("https://hooks.example.com/cdp", nil as String?, true),
        ("https://HOOKS.example.com:8443/x", nil, true),
        ("https://a.b.example.org/x", nil, true),
        ("https://example.org/x", nil, false),
        ("http://169.254.169.254/latest/meta-data", nil, false),
        ("http://hooks.example.com@127.0.0.1:8081/api", nil, false),
        ("http://user:pw@hooks.example.com/x", nil, false),
        ("http://hooks.example.com\\@127.0.0.1/x", nil, false),
        ("http://127.0.0.1:8081/api", nil, false),
        ("https://hooks.example.com/cdp", "http://127.0.0.1/alert", false),
        ("https://hooks.example.com/cdp", "https://x.example.org/alert", true),
        ("http://[::1]:9/x", nil, true),
        ("http://[::2]:9/x", nil, false),
    ])
    func allowedHosts_limitWebhooksAndAlerts(url: String, alert: String?, allowed: Bool) {
        var body = webhookJob
        body["destination"] = ["url": .string(url)]
        if let alert { body["alert_url"] = .string(alert) }
        let policy = DestinationPolicy(allowedHosts: ["hooks.example.com", "*.example.org", "[::1]"])
        do throws(JobError) {
            _ = try ExportJob.parse(body, id: "j1", account: "acme", policy: policy)
            #expect(allowed, "\(url)")
        } catch {
            #expect(!allowed, "\(url): \(error.message)")
            #expect(error.message.contains("CDP_EXPORT_ALLOWED_HOSTS"), "\(error.message)")
        }
    }

    @Test(arguments: [
        (["hooks.example.com", "*.example.org", "10.0.0.5", "[::1]"], nil as String?),
        ([], "no host named"),
        (["*"], "'*' is not a host name or '*.' followed by one"),
        (["http://x.com"], "'http://x.com' is not a host name or '*.' followed by one"),
        ([".example.com"], "'.example.com' is not a host name or '*.' followed by one"),
    ])
    func hostPatterns(patterns: [String], problem: String?) {
        #expect(DestinationPolicy.hostPatternsProblem(patterns) == problem)
    }

    @Test func defaultsByKind() throws {
        let w = try job()
        #expect(w.maxUsers == 1000 && w.maxWaitMs == 0 && w.existingUsers && w.keepUpdated && w.generation == 1 && w.retryBudgetMs == 14_400_000)
        let f = try job(["type": "file", "destination": ["dir": "/tmp/out"]])
        #expect(f.maxWaitMs == 300_000 && f.destination == .file(dir: "/tmp/out", format: .csv))
        #expect(try job(["batch": ["max_users": 5, "max_wait_s": 0.25]]).maxWaitMs == 250)
    }

    @Test func unknownAudiencesAndFieldsAreNamed() throws {
        let j = try job(["fields": ["email", "score"], "exclude_segment": "no_consent"])
        #expect(j.unknownNames(audiences: ["vip", "known_users"], fields: ["email"]) == ["audience 'no_consent'", "field 'score'"])
        #expect(j.unknownNames(audiences: ["vip", "known_users", "no_consent"], fields: nil).isEmpty)
    }
}

struct ItemDerivationTests {
    static func record(_ segments: Set<String>, _ changes: [(DeliveryItem.Action, String)]) -> MembershipRecord {
        MembershipRecord(account: "acme", profile: "p1", version: 3, segments: segments,
                         transitions: changes.map { .init(action: $0.0, segment: $0.1, tsMs: 1000) })
    }

    // (current segments, transitions, expected deliveries) for a job on vip + known_users
    // excluding no_consent.
    static let cases: [(Set<String>, [(DeliveryItem.Action, String)], [String])] = [
        (["vip"], [(.enter, "vip")], ["enter vip"]),
        ([], [(.exit, "vip")], ["exit vip"]),
        (["other"], [(.enter, "other")], []),
        (["vip", "known_users"], [(.enter, "vip"), (.enter, "known_users")], ["enter known_users", "enter vip"]),
        // Consent withdrawn: exits from the job's audiences the profile is in.
        (["vip", "no_consent"], [(.enter, "no_consent")], ["exit vip"]),
        // Consent given back: enters again.
        (["vip"], [(.exit, "no_consent")], ["enter vip"]),
        // While excluded, nothing is delivered.
        (["vip", "no_consent"], [(.enter, "vip")], []),
        (["no_consent"], [(.exit, "vip")], []),
        // An audience id is shown as its slug.
        (["seg_123"], [(.enter, "seg_123")], ["enter vip"]),
    ]

    @Test(arguments: cases.indices) func transitionsBecomeDeliveries(_ i: Int) throws {
        let (segments, changes, expected) = Self.cases[i]
        let d = ItemDerivation(job: try job(["exclude_segment": "no_consent"]), slugs: ["seg_123": "vip"], partition: 2)
        let items = d.items(for: Self.record(segments, changes), offset: 41)
        #expect(items.map { "\($0.action.rawValue) \($0.segment)" } == expected)
        #expect(items.allSatisfy { $0.source == .membership(offset: 41) && $0.tsMs == 1000 })
    }

    @Test func idsAreStableAndDistinct() throws {
        let d = ItemDerivation(job: try job(), slugs: [:], partition: 0)
        let r = Self.record(["vip"], [(.enter, "vip")])
        #expect(d.items(for: r, offset: 5) == d.items(for: r, offset: 5))
        #expect(d.items(for: r, offset: 5)[0].id != d.items(for: r, offset: 6)[0].id)
        let restarted = ItemDerivation(job: try job(["generation": 2]), slugs: [:], partition: 0)
        #expect(restarted.items(for: r, offset: 5)[0].id != d.items(for: r, offset: 5)[0].id)
    }

    static let updateCases: [(Set<String>, [String: JSONValue]?, [String: JSONValue], Bool)] = [
        (["vip"], ["plan": "free"], ["plan": "pro"], true),
        (["vip"], ["plan": "free", "x": 1], ["plan": "free", "x": 2], false),  // not a trigger field
        (["other"], ["plan": "free"], ["plan": "pro"], false),                  // not a member
        (["vip", "no_consent"], ["plan": "free"], ["plan": "pro"], false),      // excluded
        (["vip"], nil, ["plan": "pro"], false),                                 // first version seen
        (["vip"], [:], ["plan": "pro"], true),                                  // field appears
    ]

    @Test(arguments: updateCases.indices) func triggerFieldChangesBecomeUpdates(_ i: Int) throws {
        let (segments, old, new, expected) = Self.updateCases[i]
        let d = ItemDerivation(job: try job(["trigger_fields": ["plan"], "exclude_segment": "no_consent"]), slugs: [:], partition: 1)
        let item = d.update(profile: "p1", segments: segments, old: old, new: new, offset: 9, tsMs: 5)
        #expect((item != nil) == expected)
        if let item { #expect(item.action == .update && item.segment == "vip" && item.source == .profile(offset: 9)) }
    }

    @Test func existingUsersInProfileOrderWithoutExcluded() throws {
        let d = ItemDerivation(job: try job(["exclude_segment": "no_consent"]), slugs: [:], partition: 0)
        let items = d.existing([("p2", ["vip"]), ("p1", ["vip", "known_users"]), ("p3", ["vip", "no_consent"]), ("p4", ["other"])], tsMs: 7)
        #expect(items.map { "\($0.profile) \($0.segment)" } == ["p1 known_users", "p1 vip", "p2 vip"])
        #expect(items.allSatisfy { $0.action == .enter && $0.source == .existing })
    }

    @Test func membershipRecordsParse() {
        let value = Array(#"{"v":1,"aid":"acme","profile":"p9","version":4,"segments":["a"],"transitions":[{"action":"enter","segment":"a","version":4,"ts":"2026-11-29T10:00:00.000Z"},{"action":"bogus","segment":"b"}]}"#.utf8)
        let r = MembershipRecord.parse(value)
        #expect(r?.profile == "p9" && r?.segments == ["a"] && r?.transitions.count == 1 && r?.transitions[0].tsMs == 1_795_946_400_000)
        #expect(MembershipRecord.parse(Array("not json".utf8)) == nil)
    }
}

struct BatchFormatTests {
    static let items = [
        DeliveryItem(id: "d_1", profile: "p1", segment: "vip", action: .enter, tsMs: 0, source: .existing),
        DeliveryItem(id: "d_2", profile: "p2", segment: "vip", action: .exit, tsMs: 1000, source: .membership(offset: 3)),
    ]
    static let profiles: [String: ProfileSnapshot] = [
        "p1": ProfileSnapshot(identities: ["email": ["a@x.io"], "_uid": ["c1", "c2"]], fields: ["name": "Ann, \"the\" first", "tags": ["a", "b"], "score": 3]),
    ]

    @Test func webhookBodyCarriesEventsWithUserData() throws {
        let batch = Batch(jobID: "j1", items: Self.items)
        let body = try JSONParser().parse(batch.webhookBody(profiles: { Self.profiles[$0] }, fields: ["name", "score", "missing"]))
        #expect(body["job"] == "j1" && body["batch_id"] == .string(batch.id))
        let events = body["events"]?.arrayValue ?? []
        #expect(events.count == 2)
        #expect(events[0]["id"] == "d_1" && events[0]["action"] == "enter" && events[0]["ts"] == "1970-01-01T00:00:00.000Z")
        #expect(events[0]["user"] == ["email": "a@x.io", "_uid": ["c1", "c2"], "name": "Ann, \"the\" first", "score": 3])
        #expect(events[1]["user"] == [:])
        #expect(batch.id == Batch(jobID: "j1", items: Self.items).id && batch.id != Batch(jobID: "j1", items: [Self.items[0]]).id)
    }

    @Test func csvHasAHeaderAndQuotesCells() {
        let csv = String(decoding: Batch(jobID: "j1", items: Self.items).csv(profiles: { Self.profiles[$0] }, fields: ["name", "tags"]), as: UTF8.self)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == "id,profile_id,segment,action,ts,identities,name,tags")
        #expect(lines[1].hasPrefix("d_1,p1,vip,enter,1970-01-01T00:00:00.000Z,\"{"))
        #expect(lines[1].hasSuffix(",\"Ann, \"\"the\"\" first\",\"[\"\"a\"\",\"\"b\"\"]\""))
        #expect(lines[2] == "d_2,p2,vip,exit,1970-01-01T00:00:01.000Z,{},,")
        #expect(lines.count == 4 && lines[3].isEmpty)
    }

    @Test func ndjsonIsOneEventPerLine() throws {
        let text = String(decoding: Batch(jobID: "j1", items: Self.items).ndjson(profiles: { Self.profiles[$0] }, fields: []), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(try JSONParser().parse(Array(lines[1].utf8))["id"] == "d_2")
    }

    @Test func signaturesVerify() {
        let body = Array(#"{"a":1}"#.utf8)
        let sig = WebhookSignature.sign(secret: "0123456789abcdef", timestamp: "1700000000", body: body)
        #expect(sig.hasPrefix("sha256=") && sig.count == 71)
        #expect(WebhookSignature.verify(secret: "0123456789abcdef", timestamp: "1700000000", body: body, signature: sig))
        #expect(!WebhookSignature.verify(secret: "0123456789abcdef", timestamp: "1700000001", body: body, signature: sig))
        #expect(!WebhookSignature.verify(secret: "0123456789abcdeX", timestamp: "1700000000", body: body, signature: sig))
    }
}

struct RetryPolicyTests {
    /// 2015-10-21 07:27:50 GMT.
    static let now: Int64 = 1_445_412_470_000

    static let statuses: [(Int, String?, String?, AttemptOutcome)] = [
        (200, nil, nil, .delivered), (204, nil, nil, .delivered),
        (500, nil, nil, .retry(reason: "HTTP 500", afterMs: nil)), (503, "7", nil, .retry(reason: "HTTP 503", afterMs: 7000)),
        (408, nil, nil, .retry(reason: "HTTP 408", afterMs: nil)), (429, "2", nil, .retry(reason: "HTTP 429", afterMs: 2000)),
        // An HTTP date: measured from the response's Date when readable, else from now.
        (429, "Wed, 21 Oct 2015 07:28:00 GMT", nil, .retry(reason: "HTTP 429", afterMs: 10_000)),
        (503, "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:27:30 GMT", .retry(reason: "HTTP 503", afterMs: 30_000)),
        (503, "Wed, 21 Oct 2015 07:28:00 GMT", "yesterday", .retry(reason: "HTTP 503", afterMs: 10_000)),
        (503, "Wednesday, 21-Oct-15 07:28:00 GMT", nil, .retry(reason: "HTTP 503", afterMs: 10_000)),
        (503, "Wed Oct 21 07:28:00 2015", nil, .retry(reason: "HTTP 503", afterMs: 10_000)),
        // In the past: no wait; unreadable: ignored (the normal backoff applies); too long: a day.
        (503, "Wed, 21 Oct 2015 07:00:00 GMT", nil, .retry(reason: "HTTP 503", afterMs: 0)),
        (503, "soon", nil, .retry(reason: "HTTP 503", afterMs: nil)), (503, "-5", nil, .retry(reason: "HTTP 503", afterMs: nil)),
        (503, "1.5", nil, .retry(reason: "HTTP 503", afterMs: nil)), (503, "", nil, .retry(reason: "HTTP 503", afterMs: nil)),
        (503, "172800", nil, .retry(reason: "HTTP 503", afterMs: 86_400_000)),
        (503, "99999999999999999999999", nil, .retry(reason: "HTTP 503", afterMs: 86_400_000)),
        (503, "Fri, 21 Oct 2016 07:28:00 GMT", nil, .retry(reason: "HTTP 503", afterMs: 86_400_000)),
        (400, nil, nil, .terminal(reason: "HTTP 400")), (404, "5", nil, .terminal(reason: "HTTP 404")), (301, nil, nil, .terminal(reason: "HTTP 301")),
    ]

    @Test(arguments: statuses.indices) func classifiesResponses(_ i: Int) {
        let (status, retryAfter, date, expected) = Self.statuses[i]
        #expect(AttemptOutcome.http(status: status, retryAfter: retryAfter, date: date, nowMs: Self.now) == expected)
    }

    @Test func backoffGrowsWithJitterAndCaps() {
        let p = RetryPolicy(baseMs: 1000, maxMs: 300_000)
        for attempt in 0..<12 {
            let full = min(300_000, 1000 << attempt)
            let low = p.delayMs(attempt: attempt, retryAfterMs: nil, random: 0)
            let high = p.delayMs(attempt: attempt, retryAfterMs: nil, random: 0.999)
            #expect(low == Int64(full / 2) && high <= Int64(full) && high >= Int64(full) * 99 / 100)
        }
        #expect(p.delayMs(attempt: 100, retryAfterMs: nil, random: 0.5) <= 300_000)
        #expect(p.delayMs(attempt: 0, retryAfterMs: 20_000, random: 0) == 20_000)
        #expect(p.delayMs(attempt: 0, retryAfterMs: 900_000, random: 0) == 300_000)
    }
}

struct LaneQueueTests {
    @Test func acknowledgingMovesThePositionPastDeliveredRecords() {
        var q = LaneQueue(position: LanePosition(generation: 1, memberships: 10, profiles: 4, existingDone: false))
        #expect(!q.isLive(membershipOffset: 9) && q.isLive(membershipOffset: 10) && q.isLive(profileOffset: 4))
        q.append([DeliveryItem(id: "a", profile: "p1", segment: "s", action: .enter, tsMs: 0, source: .existing),
                  DeliveryItem(id: "b", profile: "p1", segment: "s", action: .exit, tsMs: 0, source: .membership(offset: 12)),
                  DeliveryItem(id: "c", profile: "p2", segment: "s", action: .update, tsMs: 0, source: .profile(offset: 7))], atMs: 100)
        #expect(q.peek(max: 2).map(\.id) == ["a", "b"] && q.oldestQueuedMs == 100)
        let p1 = q.acknowledge(2)
        #expect(p1.memberships == 13 && p1.profiles == 4 && p1.existingDone && p1.existingCursor == "p1")
        let moved = q.advanceIdle(memberships: 20, profiles: 20)
        #expect(!moved)  // still holds "c"
        let p2 = q.acknowledge(1)
        #expect(p2.profiles == 8 && q.isEmpty)
        let movedIdle = q.advanceIdle(memberships: 20, profiles: 20)
        #expect(movedIdle && q.position.memberships == 20)
        q.reset(LanePosition(generation: 2, memberships: 30, profiles: 30, existingDone: true))
        #expect(q.isEmpty && q.position.generation == 2)
    }
}

struct ExportsStateTests {
    static func lane(_ gen: Int64, _ m: Int64, _ status: String = "delivered") -> ExportsRecord {
        .lane(.init(account: "acme", job: "j1", partition: 0, position: LanePosition(generation: gen, memberships: m, profiles: 0, existingDone: true),
                    status: status, batchID: nil, delivered: m, deadLettered: 0, atMs: 0))
    }

    @Test func foldsPositionsDeadLettersAndReplays() throws {
        var s = ExportsState()
        let key = ExportsState.LaneKey(account: "acme", job: "j1", partition: 0)
        for r in [Self.lane(1, 5), Self.lane(1, 9), Self.lane(1, 7)] { s.apply(try #require(ExportsRecord.parse(r.json.serializedBytes()))) }
        #expect(s.lanes[key]?.position.memberships == 9)  // never back within a generation
        s.apply(Self.lane(2, 3, "start"))
        #expect(s.lanes[key]?.position.generation == 2 && s.lanes[key]?.position.memberships == 3)
        s.apply(Self.lane(1, 50))
        #expect(s.lanes[key]?.position.generation == 2)  // an old generation is ignored
        let dead = ExportsRecord.dead(.init(account: "acme", job: "j1", partition: 0, batchID: "b_1", items: 2, reason: "HTTP 400", payload: "{}", atMs: 5))
        s.apply(try #require(ExportsRecord.parse(dead.json.serializedBytes())))
        #expect(s.deadBatches(account: "acme", job: "j1").map(\.batchID) == ["b_1"])
        #expect(dead.key == "acme/j1/dead/b_1")
        s.apply(.replayed(account: "acme", job: "j1", batchID: "b_1"))
        #expect(s.deadBatches(account: "acme", job: "j1").isEmpty)
        #expect(ExportsRecord.parse(Array("{}".utf8)) == nil)
    }
}
