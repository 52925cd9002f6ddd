import HTTP
import Model
import Runtime

extension CollectorApp {
    func mountAccounts(_ router: inout Router) {
        // Creating accounts is the operator's act; keys only see their own account.
        router.post("/api/account") { [self] request in
            switch auth.authenticate(request, role: .admin) {
            case .failure(let f): return f.response
            case .success(let p) where !p.isOperator: return .error(403, "only the operator (CDP_ADMIN_TOKEN) creates accounts")
            case .success: break
            }
            let body: [String: JSONValue]
            switch Self.jsonObject(request) {
            case .success(let o): body = o
            case .failure(let r): return r
            }
            if let problem = DocumentMembers.stray(body, known: ["id", "name"], what: "an account") { return .error(400, problem) }
            guard let id = body["id"]?.stringValue else { return .error(400, "\"id\" (string) is required") }
            if let name = body["name"], name.stringValue == nil { return .error(400, "\"name\" must be a string") }
            if let problem = Identifier.accountProblem(id) { return .error(400, problem) }
            let name = body["name"]?.stringValue ?? id
            guard name.utf8.count <= 256 else { return .error(400, "\"name\" is longer than 256 bytes") }
            let key = ConfigKey(account: id, kind: ConfigKind.account, id: id)
            do throws(ConfigWriteError) {
                let doc = try await writer.put(key, body: ["name": .string(name)], expectedVersion: 0, by: "admin", nowMs: Timestamp.nowMs())
                return .json(201, message: "account created", data: doc.apiJSON())
            } catch {
                if case .conflict = error { return .error(409, "account '\(id)' already exists") }
                return Self.writeFailure(error)
            }
        }
        router.get("/api/account") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let accounts = p.isOperator && request.query("aid") == nil
                    ? view.read { $0.accounts }
                    : view.read { $0.account(p.account).map { [$0] } ?? [] }
                return .json(200, data: .array(accounts.map { $0.apiJSON() }))
            }
        }
        router.get("/api/account/{id}") { [self] request in
            let id = request[parameter: "id"] ?? ""
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                guard p.isOperator || p.account == id else { return .error(403, "this key cannot read account '\(id)'") }
                guard let doc = view.read({ $0.account(id) }) else { return .error(404, "account '\(id)' does not exist") }
                return .json(200, data: doc.apiJSON())
            }
        }
    }
}
