import Crypto
import HTTP
import Pipeline
import Model
import Runtime

extension CollectorApp {
    /// Fields of an API key document never shown by the API.
    static let apiKeySecrets: Set<String> = ["token_sha256"]

    func mountAPIKeys(_ router: inout Router) {
        router.post("/api/apikey") { [self] request in
            let body: [String: JSONValue]
            switch Self.jsonObject(request) {
            case .success(let o): body = o
            case .failure(let r): return r
            }
            // The account comes from the body's "aid" (or ?aid=); a key may only make keys for its own account.
            var scoped = request
            if let aid = body["aid"]?.stringValue {
                if let q = request.query("aid"), q != aid { return .error(400, "\"aid\" in the body and ?aid= differ") }
                scoped.queryItems.append(("aid", aid))
            }
            return await authorized(scoped, .admin) { principal in
                await createKey(body, principal: principal)
            }
        }
        router.get("/api/apikey") { [self] request in
            await authorized(request, .admin) { principal in
                let keys = view.read { $0.documents(account: principal.account, kind: ConfigKind.apiKey) }
                return .json(200, data: .array(keys.map { $0.apiJSON(hiding: Self.apiKeySecrets) }))
            }
        }
        router.delete("/api/apikey/{id}") { [self] request in
            await authorized(request, .admin) { principal in
                let id = request[parameter: "id"] ?? ""
                return await deleteDocument(ConfigKey(account: principal.account, kind: ConfigKind.apiKey, id: id),
                                            request: request, done: "API key '\(id)' revoked", what: "API key")
            }
        }
    }

    func createKey(_ body: [String: JSONValue], principal: Principal) async -> HTTPResponse {
        if let problem = DocumentMembers.stray(body, known: ["aid", "name", "roles"], what: "an API key") { return .error(400, problem) }
        guard let name = body["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 256 else {
            return .error(400, "\"name\" (a string of 1 to 256 bytes) is required")
        }
        guard let rawRoles = body["roles"]?.arrayValue, !rawRoles.isEmpty else {
            return .error(400, "\"roles\" must be a non-empty list of collect, read, admin")
        }
        var roles: [String] = []
        for r in rawRoles {
            guard let s = r.stringValue, Role(rawValue: s) != nil else {
                return .error(400, "unknown role \(r.serialized()); roles are collect, read, admin")
            }
            if !roles.contains(s) { roles.append(s) }
        }
        let id = "k_" + Digest.hex(Digest.randomBytes(8))
        let token = "cdp_" + Digest.hex(Digest.randomBytes(20))
        let key = ConfigKey(account: principal.account, kind: ConfigKind.apiKey, id: id)
        let doc: [String: JSONValue] = [
            "name": .string(name), "roles": .array(roles.map(JSONValue.string)),
            "token_sha256": .string(Digest.sha256Hex(token)), "token_prefix": .string(String(token.prefix(8))),
        ]
        do throws(ConfigWriteError) {
            let written = try await writer.put(key, body: doc, expectedVersion: 0, by: principal.actor, nowMs: Timestamp.nowMs())
            guard case .object(var out) = written.apiJSON(hiding: Self.apiKeySecrets) else { return .error(500, "unexpected document") }
            // The token is shown once, here; only its hash is stored.
            out["token"] = .string(token)
            return .json(201, message: "API key created; store the token now, it is not shown again", data: .object(out))
        } catch {
            return Self.writeFailure(error)
        }
    }
}
