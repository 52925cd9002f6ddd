import HTTP
import Pipeline
import Model
import Runtime

/// Checks a document body of one kind before it is written: returns the body to store (it may
/// normalise it) or a message saying what is wrong (400).
public typealias ConfigValidator = @Sendable (_ body: [String: JSONValue], _ account: String, _ id: String, _ state: ConfigState) -> Result<[String: JSONValue], ConfigValidationError>

public struct ConfigValidationError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

extension CollectorApp {
    /// Mounts create/read/update/delete for documents of `kind` under `/api/{path}`:
    /// `POST` (201; id from the body's `id` or generated), `GET` (list), `GET /{id}`,
    /// `PUT /{id}` (create or replace; `If-Match: <version>` → 409 when it changed) and
    /// `DELETE /{id}` (`If-Match` too). Reads need `read`, writes `admin`.
    public func mountConfigKind(_ router: inout Router, kind: String, path: String, secrets: Set<String> = [], deletable: Bool = true,
                                validate: @escaping ConfigValidator) {
        precondition(ConfigKind.isValidName(kind))
        router.post("/api/\(path)") { [self] request in
            await authorized(request, .admin) { principal in
                let body: [String: JSONValue]
                switch Self.jsonObject(request) {
                case .success(let o): body = o
                case .failure(let r): return r
                }
                let id = body["id"]?.stringValue ?? "\(kind)_" + EventIDs.next().dropFirst(4)
                if let problem = Identifier.documentProblem(id) { return .error(400, problem) }
                return await put(kind: kind, id: id, body: body, expected: 0, principal: principal, secrets: secrets, validate: validate, created: true)
            }
        }
        router.get("/api/\(path)") { [self] request in
            await authorized(request, .read) { principal in
                let docs = view.read { $0.documents(account: principal.account, kind: kind) }
                return .json(200, data: .array(docs.map { $0.apiJSON(hiding: secrets) }))
            }
        }
        router.get("/api/\(path)/{id}") { [self] request in
            await authorized(request, .read) { principal in
                let key = ConfigKey(account: principal.account, kind: kind, id: request[parameter: "id"] ?? "")
                guard let doc = view.read({ $0.document(key) }) else { return .error(404, "no \(kind) '\(key.id)' in account '\(principal.account)'") }
                return .json(200, data: doc.apiJSON(hiding: secrets), headers: [("ETag", "\"\(doc.version)\"")])
            }
        }
        router.put("/api/\(path)/{id}") { [self] request in
            await authorized(request, .admin) { principal in
                let id = request[parameter: "id"] ?? ""
                if let problem = Identifier.documentProblem(id) { return .error(400, problem) }
                let body: [String: JSONValue]
                switch Self.jsonObject(request) {
                case .success(let o): body = o
                case .failure(let r): return r
                }
                let expected: Int64?
                switch Self.ifMatch(request) {
                case .success(let v): expected = v
                case .failure(let r): return r
                }
                return await put(kind: kind, id: id, body: body, expected: expected, principal: principal, secrets: secrets, validate: validate, created: false)
            }
        }
        guard deletable else { return }
        router.delete("/api/\(path)/{id}") { [self] request in
            await authorized(request, .admin) { principal in
                await deleteDocument(ConfigKey(account: principal.account, kind: kind, id: request[parameter: "id"] ?? ""),
                                     request: request, done: "\(kind) '\(request[parameter: "id"] ?? "")' deleted", what: kind)
            }
        }
    }

    /// Deletes a document (honouring `If-Match`) and answers 200 with `done`, 404, 409 or 503.
    func deleteDocument(_ key: ConfigKey, request: HTTPRequest, done: String, what: String) async -> HTTPResponse {
        let expected: Int64?
        switch Self.ifMatch(request) {
        case .success(let v): expected = v
        case .failure(let r): return r
        }
        do throws(ConfigWriteError) {
            try await writer.delete(key, expectedVersion: expected)
            return .json(200, message: done)
        } catch {
            if case .notFound = error { return .error(404, "no \(what) '\(key.id)' in account '\(key.account)'") }
            return Self.writeFailure(error)
        }
    }

    private func put(kind: String, id: String, body raw: [String: JSONValue], expected: Int64?, principal: Principal,
                     secrets: Set<String>, validate: ConfigValidator, created: Bool) async -> HTTPResponse {
        var body = raw
        for field in ["id", "aid", "version", "created", "updated", "updated_by"] { body[field] = nil }
        let validated: [String: JSONValue]
        switch view.read({ validate(body, principal.account, id, $0) }) {
        case .success(let b): validated = b
        case .failure(let e): return .error(400, e.message)
        }
        let key = ConfigKey(account: principal.account, kind: kind, id: id)
        do throws(ConfigWriteError) {
            let doc = try await writer.put(key, body: validated, expectedVersion: expected, by: principal.actor, nowMs: Timestamp.nowMs())
            return .json(doc.version == 1 ? 201 : 200, message: doc.version == 1 ? "\(kind) created" : "\(kind) updated",
                         data: doc.apiJSON(hiding: secrets), headers: [("ETag", "\"\(doc.version)\"")])
        } catch {
            if case .conflict = error, created, expected == 0 { return .error(409, "\(kind) '\(id)' already exists") }
            return Self.writeFailure(error)
        }
    }
}
