import ExportCore
import HTTP
import IdentityCore
import Model
import Pipeline
import Runtime
import SegmentCore

/// The export job config API (kind `job`; Lytics calls jobs "work"): `POST /api/work`,
/// `GET /api/work`, `GET /api/work/{id}`, `PUT /api/work/{id}`, `DELETE /api/work/{id}`, and
/// `POST /api/work/{id}/pause|resume|restart`. The webhook secret is never returned
/// (`destination.secret_set` says whether one is stored). Delivery status lives on the exporter.
extension CollectorApp {
    static let jobSecrets: Set<String> = ["destination.secret"]

    func mountWork(_ router: inout Router) {
        let policy = settings.destinations
        mountConfigKind(&router, kind: "job", path: "work", secrets: Self.jobSecrets) { body, account, id, state in
            Self.validateJob(body, account: account, id: id, state: state, policy: policy)
        }
        for action in ["pause", "resume", "restart"] {
            router.post("/api/work/{id}/\(action)") { [self] request in
                await authorized(request, .admin) { principal in
                    await control(ConfigKey(account: principal.account, kind: "job", id: request[parameter: "id"] ?? ""), action: action, by: principal.actor)
                }
            }
        }
    }

    /// Pause (deliveries stop; changes meanwhile are not delivered), resume, or restart (a new
    /// generation: every current member is delivered again, then changes).
    func control(_ key: ConfigKey, action: String, by actor: String) async -> HTTPResponse {
        for _ in 0..<3 {
            guard let doc = view.read({ $0.document(key) }) else { return .error(404, "no export job '\(key.id)'") }
            var body = doc.body
            switch action {
            case "pause": body["paused"] = true
            case "resume": body["paused"] = false
            default:
                body["paused"] = false
                body["generation"] = .int((doc.body["generation"]?.intValue ?? 1) + 1)
            }
            do throws(ConfigWriteError) {
                let saved = try await writer.put(key, body: body, expectedVersion: doc.version, by: actor, nowMs: Timestamp.nowMs())
                let message = switch action {
                case "pause": "job paused"
                case "resume": "job resumed"
                default: "job restarted (generation \(saved.body["generation"]?.intValue ?? 0)): every current member will be delivered again"
                }
                return .json(200, message: message, data: saved.apiJSON(hiding: Self.jobSecrets))
            } catch {
                if case .conflict = error { continue }
                return Self.writeFailure(error)
            }
        }
        return .error(409, "the job kept changing; try again")
    }

    /// The members an export job document is made of (`generation` belongs to the exporter's
    /// restart control), and those of each kind of destination (`secret_set` is how a read
    /// document shows that a secret is kept).
    static let jobMembers = ["id", "type", "name", "segments", "exclude_segment", "fields", "trigger_fields", "existing_users", "keep_updated",
                             "paused", "batch", "destination", "alert_url", "retry_budget_s", "generation"]
    static let destinationMembers = ["webhook": ["url", "secret", "headers", "secret_set"], "file": ["dir", "format"]]

    /// Checks a job: its members, its own settings, then that its audiences and fields exist in
    /// the account.
    static func validateJob(_ body: [String: JSONValue], account: String, id: String, state: ConfigState,
                            policy: DestinationPolicy = DestinationPolicy()) -> Result<[String: JSONValue], ConfigValidationError> {
        if let problem = DocumentMembers.stray(body, known: jobMembers, what: "an export job", allowingMetadata: true) {
            return .failure(ConfigValidationError(problem))
        }
        if case .object(let d)? = body["destination"], let type = body["type"]?.stringValue, let known = destinationMembers[type],
           let problem = DocumentMembers.stray(d, known: known, at: "destination: ", what: "a \(type) destination") {
            return .failure(ConfigValidationError(problem))
        }
        var out = body.filter { !DocumentMembers.metadata.contains($0.key) || $0.key == "id" }
        let current = state.document(ConfigKey(account: account, kind: "job", id: id))
        // The generation belongs to the exporter's restart control; the secret is kept when a
        // client sends back the document it read (which does not show it).
        out["generation"] = .int(current?.body["generation"]?.intValue ?? 1)
        if case .object(var d)? = out["destination"], d["secret"] == nil, let kept = current?.body["destination"]?["secret"] {
            d["secret"] = kept
            d["secret_set"] = nil
            out["destination"] = .object(d)
        } else if case .object(var d)? = out["destination"] {
            d["secret_set"] = nil
            out["destination"] = .object(d)
        }
        let job: ExportJob
        do throws(JobError) {
            job = try ExportJob.parse(out, id: id, account: account, policy: policy)
        } catch {
            return .failure(ConfigValidationError(error.message))
        }
        var audiences = Set(AudienceSet.builtIns.map(\.slug))
        for d in state.documents(account: account, kind: "segment") {
            if let s = d.body["slug"]?.stringValue { audiences.insert(s.lowercased()) }
        }
        let unknown = job.unknownNames(audiences: audiences, fields: knownFields(account: account, state: state))
        if !unknown.isEmpty { return .failure(ConfigValidationError("unknown \(unknown.joined(separator: ", "))")) }
        out["segments"] = .array(job.segments.map(JSONValue.string))
        if let e = job.excludeSegment { out["exclude_segment"] = .string(e) }
        return .success(out)
    }

    /// The fields a job may select: the saved schema's fields and identity keys. Nil with the
    /// default schema, whose unmapped streams store any top-level field (anything goes).
    static func knownFields(account: String, state: ConfigState) -> Set<String>? {
        guard let doc = state.document(ConfigKey(account: account, kind: "schema", id: "current")),
              let schema = try? AccountSchema.parse(.object(doc.body)) else { return nil }
        return Set(schema.identity.fields.keys).union(schema.identity.keys.map(\.field))
    }

    /// Export jobs of an account that use an audience (in `segments` or as `exclude_segment`).
    static func jobsUsing(_ slug: String, account: String, state: ConfigState) -> [String] {
        state.documents(account: account, kind: "job").filter { d in
            (d.body["segments"]?.arrayValue ?? []).contains(.string(slug)) || d.body["exclude_segment"]?.stringValue == slug
        }.map(\.key.id)
    }
}
