import IdentityCore
import HTTP
import Model
import Pipeline
import QL
import Runtime

extension ResolverApp {
    /// The resolver's HTTP API (port 8081; `read` role or the operator).
    public var router: Router {
        var router = Router()
        router.get("/api/entity/user/{field}/{value}") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let principal):
                let field = request[parameter: "field"] ?? "", value = request[parameter: "value"] ?? ""
                // The value as given, or as the account's mappings store it (`Ada@X.com` finds
                // what `email()` stored as `ada@x.com`).
                let schema = schema(for: principal.account)
                let forms = schema.identityForms(of: value, field: field)
                let found = state.withAccount(principal.account) { s -> Profile? in
                    for form in forms { if let p = s.graphs[principal.account]?.profile(for: Identifier(field, form)) { return p } }
                    return nil
                }
                guard let profile = found else {
                    // Not found because the field identifies nobody: say so, with the keys that do.
                    let keys = schema.identity.keys.map(\.field)
                    let hint = keys.contains(field) ? "" : " (\(field) is not an identity key; the account's are \(keys.joined(separator: ", ")))"
                    return .error(404, "no profile with \(field) = \(value) in account '\(principal.account)'\(hint)")
                }
                var json = profile.json(account: principal.account)
                // The profile's audiences by slug (only API-accessible ones unless the key may administer the account).
                if case .object(var o) = json {
                    let docs = view.read { $0.documents(account: principal.account, kind: "segment") }
                    let slugs = memberships.segments(account: principal.account, profile: profile.id).compactMap { id -> String? in
                        if let doc = docs.first(where: { $0.key.id == id }) {
                            let accessible = doc.body["api_accessible"]?.boolValue ?? false
                            return accessible || principal.may(.admin) ? doc.body["slug"]?.stringValue : nil
                        }
                        return ["all_users", "known_users", "anonymous_users"].contains(id) ? id : nil
                    }
                    o["segments"] = .array(slugs.sorted().map(JSONValue.string))
                    json = .object(o)
                }
                let explain: Bool
                do throws(QueryParameterError) { explain = try request.flag("explain") } catch { return error.response }
                if explain, case .object(var o) = json {
                    o["explain"] = profile.explanation
                    json = .object(o)
                }
                if let wanted = request.query("fields")?.split(separator: ",").map(String.init), case .object(var o) = json,
                   case .object(let fields)? = o["fields"] {
                    o["fields"] = .object(fields.filter { wanted.contains($0.key) })
                    json = .object(o)
                }
                return .json(200, data: json)
            }
        }
        router.get("/api/entity/deletion/{id}") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let principal):
                let id = request[parameter: "id"] ?? ""
                // Ids the collector hands out are del_ and hex digits; anything else was never
                // issued (and would otherwise read as pending forever).
                let rest = id.utf8.dropFirst(4)
                guard id.hasPrefix("del_"), !rest.isEmpty, rest.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                    return .error(404, "no deletion request '\(id)' (request ids look like del_1f2e3d…, as DELETE /api/entity/user/... returned)")
                }
                let done = state.withAccount(principal.account) { $0.deletions[id] }
                guard let done, done.account == principal.account else {
                    return .json(200, message: "pending", data: ["request_id": .string(id), "status": "pending"])
                }
                return .json(200, message: "done", data: ["request_id": .string(id), "status": "done",
                                                           "done_at": .string(Timestamp.rfc3339Millis(epochMs: done.atMs)),
                                                           "profile": done.profiles.first.map(JSONValue.string) ?? .null,
                                                           "profiles": .array(done.profiles.map(JSONValue.string))])
            }
        }
        router.get("/api/identity/stats") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let principal):
                let stats: JSONValue = state.withAccount(principal.account) { s in
                    guard let g = s.graphs[principal.account] else { return ["profiles": 0, "keys": [:]] }
                    var keys: [String: JSONValue] = [:]
                    for key in g.schema.keys {
                        keys[key.field] = ["rank": .int(Int64(key.rank)), "merges": .int(Int64(g.mergesByKey[key.field] ?? 0)),
                                           "conflicts": .int(Int64(g.conflictsByKey[key.field] ?? 0))]
                    }
                    return ["profiles": .int(Int64(g.profiles.count)), "identifiers": .int(Int64(g.owner.count)),
                            "events_without_identity": .int(Int64(g.eventsWithoutIdentity)), "keys": .object(keys)]
                }
                return .json(200, data: stats)
            }
        }
        router.get("/api/stream") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let principal):
                let streams = state.withAccount(principal.account) { $0.streams[principal.account] ?? [:] }
                let data = streams.keys.sorted().map { name -> JSONValue in
                    let st = streams[name]!
                    return ["stream": .string(name), "events": .int(Int64(st.events)), "last_event": .string(Timestamp.rfc3339Millis(epochMs: st.lastEventMs)),
                            "without_identity": .int(Int64(st.withoutIdentity)), "dead_lettered": .int(Int64(st.deadLettered)),
                            "dropped_by_where": .int(Int64(st.filtered)), "fields_seen": .object(st.fieldsSeen)]
                }
                return .json(200, data: .array(data))
            }
        }
        router.get("/api/stream/{name}/events") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let principal):
                let limit: Int
                do throws(QueryParameterError) { limit = try request.integer("limit", default: 20, in: 1...20) } catch { return error.response }
                let recent = state.withAccount(principal.account) { $0.streams[principal.account]?[request[parameter: "name"] ?? ""]?.recent ?? [] }
                return .json(200, data: .array(recent.suffix(limit).map(\.json)))
            }
        }
        router.mountOperations(service: "cdp-resolver", metrics: metrics) { [self] in readiness }
        return router
    }
}
