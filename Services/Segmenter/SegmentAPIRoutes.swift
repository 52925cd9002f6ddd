import HTTP
import Pipeline
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
                let sizes: [String: JSONValue] = accounts.withLock { all in
                    guard let s = all[p.account], let a = s.audiences else { return [:] }
                    return Dictionary(uniqueKeysWithValues: a.audiences.map { ($0.id, JSONValue.int(Int64(s.memberships.size(of: $0.id)))) })
                }
                return .json(200, data: .object(sizes))
            }
        }
        router.get("/api/segment/{id}/size") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                let size = accounts.withLock { $0[p.account]?.memberships.size(of: id) ?? 0 }
                return .json(200, data: ["segment": .string(id), "size": .int(Int64(size))])
            }
        }
        router.get("/api/segment/{id}/members") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                let limit = min(1000, max(1, Int(request.query("limit") ?? "100") ?? 100))
                let cursor = request.query("cursor") ?? ""
                let members = accounts.withLock { $0[p.account]?.memberships.members(of: id) ?? [] }.filter { $0 > cursor }
                let page = Array(members.prefix(limit))
                var data: [String: JSONValue] = ["segment": .string(id), "members": .array(page.map(JSONValue.string))]
                if members.count > limit, let last = page.last { data["next_cursor"] = .string(last) }
                return .json(200, data: .object(data))
            }
        }
        router.mountOperations(service: "cdp-segmenter", metrics: metrics) { [self] in readiness }
        return router
    }
}
