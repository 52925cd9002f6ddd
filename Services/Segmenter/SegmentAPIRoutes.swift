import HTTP
import Model
import Pipeline
import QL
import Runtime
import SegmentCore

extension SegmenterApp {
    /// `GET /api/segment/{id}/size`, `GET /api/segment/sizes`, `GET /api/segment/{id}/members`.
    public var router: Router {
        var router = Router()
        router.get("/api/segment/sizes") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let sizes: [String: JSONValue] = states.withLock { all in
                    let parts = Self.shares(all, p.account)
                    guard let a = parts.lazy.compactMap(\.audiences).first else { return [:] }
                    return Dictionary(uniqueKeysWithValues: a.audiences.map { audience in
                        (audience.id, JSONValue.int(Int64(parts.reduce(0) { $0 + $1.memberships.size(of: audience.id) })))
                    })
                }
                return .json(200, data: .object(sizes))
            }
        }
        router.get("/api/segment/{id}/size") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                guard isAudience(id, account: p.account) else { return Self.noAudience(id, account: p.account) }
                let size = states.withLock { Self.shares($0, p.account).reduce(0) { $0 + $1.memberships.size(of: id) } }
                return .json(200, data: ["segment": .string(id), "size": .int(Int64(size))])
            }
        }
        router.get("/api/segment/{id}/members") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                guard isAudience(id, account: p.account) else { return Self.noAudience(id, account: p.account) }
                let limit: Int
                do throws(QueryParameterError) { limit = try request.integer("limit", default: 100, in: 1...1000) } catch { return error.response }
                let cursor = request.query("cursor") ?? ""
                let members = states.withLock { Self.shares($0, p.account).flatMap { $0.memberships.members(of: id) } }.filter { $0 > cursor }.sorted()
                let page = Array(members.prefix(limit))
                var data: [String: JSONValue] = ["segment": .string(id), "members": .array(page.map(JSONValue.string))]
                if members.count > limit, let last = page.last { data["next_cursor"] = .string(last) }
                return .json(200, data: .object(data))
            }
        }
        router.get("/api/segment/{id}/history") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                // This replica's partitions: what cdp.memberships held when it took them, plus
                // what it published since.
                let (partitions, live) = states.withLock { all in
                    let mine = all.filter { $0.key.account == p.account }
                    return (Set(mine.keys.map(\.partition)), mine.values.compactMap { $0.history[id] })
                }
                var history = SizeHistory()
                publishedHistory.withLock { h in for part in partitions { if let read = h[part]?[p.account]?[id] { history.merge(read) } } }
                for share in live { history.merge(share) }
                let now = clock()
                let size = history.size(at: now)
                return .json(200, data: [
                    "segment": .string(id), "size": .int(Int64(size)),
                    "hourly": .array(history.hourly.map { ["ts": .string(Timestamp.rfc3339Millis(epochMs: $0.hourStartMs)), "size": .int(Int64($0.size))] }),
                    "daily": .array(history.daily.map { ["ts": .string(Timestamp.rfc3339Millis(epochMs: $0.dayStartMs)), "size": .int(Int64($0.size))] }),
                    "change_7d": .int(Int64(size - history.size(at: now - 7 * 86_400_000))),
                    "change_30d": .int(Int64(size - history.size(at: now - 30 * 86_400_000))),
                ])
            }
        }
        // Size and a sample of an unsaved definition, evaluated now against this instance's profiles.
        router.post("/api/segment/preview") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                guard case .object(let body)? = try? JSONParser().parse(request.body) else { return .error(400, "body must be a JSON object") }
                if let problem = DocumentMembers.stray(body, known: ["filterql", "rules"], what: "a preview") { return .error(400, problem) }
                let filterQL: String
                if let text = body["filterql"]?.stringValue {
                    filterQL = text
                } else if let rules = body["rules"] {
                    do throws(AudienceError) { filterQL = try RuleTree.filterQL(rules) } catch { return .error(400, error.message) }
                } else {
                    return .error(400, "give \"filterql\" or a rule tree in \"rules\"")
                }
                let now = clock()
                let result: Result<(Int, [String], Int), AudienceError> = states.withLock { all in
                    var profiles: [String: (version: Int64, fields: [String: QLValue])] = [:]
                    for share in Self.shares(all, p.account) { profiles.merge(share.profiles) { a, _ in a } }
                    // Existing audiences stay includable by slug.
                    let docs = view.read { $0.documents(account: p.account, kind: "segment") }
                    var defs = docs.compactMap { d -> AudienceSet.Definition? in
                        guard let s = d.body["slug"]?.stringValue, let f = d.body["filterql"]?.stringValue else { return nil }
                        return AudienceSet.Definition(id: d.key.id, slug: s, filterQL: f)
                    }
                    defs.append(AudienceSet.Definition(id: "__preview", slug: "__preview", filterQL: filterQL))
                    let set: AudienceSet
                    do { set = try AudienceSet(defs) } catch let e as AudienceError { return .failure(e) } catch { return .failure(AudienceError("\(error)")) }
                    guard let preview = set.audiences.first(where: { $0.id == "__preview" }) else { return .failure(AudienceError("internal: preview missing")) }
                    var size = 0
                    var sample: [String] = []
                    for (id, profile) in profiles.sorted(by: { $0.key < $1.key }) where preview.program.matches(preview.program.record(profile.fields), nowMs: now) {
                        size += 1
                        if sample.count < 20 { sample.append(id) }
                    }
                    return .success((size, sample, profiles.count))
                }
                switch result {
                // The unsaved definition has no name of its own: its problems are the filter's.
                case .failure(let e): return .error(400, e.message.replacingOccurrences(of: "audience '__preview': ", with: "filterql: "))
                case .success(let (size, sample, total)):
                    return .json(200, data: ["filterql": .string(filterQL), "size": .int(Int64(size)), "profiles": .int(Int64(total)),
                                             "sample": .array(sample.map(JSONValue.string))])
                }
            }
        }
        router.mountOperations(service: "cdp-segmenter", metrics: metrics) { [self] in readiness }
        return router
    }

    /// Whether `id` names one of the account's audiences: a saved one or a built-in. (A size or
    /// member list of anything else would be an empty answer to a mistyped id.)
    func isAudience(_ id: String, account: String) -> Bool {
        AudienceSet.builtIns.contains { $0.slug == id } || view.read { $0.document(ConfigKey(account: account, kind: "segment", id: id)) } != nil
    }

    static func noAudience(_ id: String, account: String) -> HTTPResponse {
        .error(404, "no audience '\(id)' in account '\(account)'")
    }

    /// An account's shares of this instance's partitions, in partition order.
    static func shares(_ all: [StateKey: AccountSegments], _ account: String) -> [AccountSegments] {
        all.filter { $0.key.account == account }.sorted { $0.key.partition < $1.key.partition }.map(\.value)
    }
}
