import HTTP
import Model
import Pipeline
import Runtime
import SegmentCore

/// The audience config API (kind `segment`): `POST /api/segment`, `GET /api/segment`,
/// `GET /api/segment/{id or slug}`, `PUT /api/segment/{id}`, `DELETE /api/segment/{id}` (409 with
/// the dependents when other audiences include it; `?cascade=true` deletes them too).
/// A body gives `filterql` or a rule tree `rules`; either way the stored document carries the
/// FilterQL, validated together with the account's other audiences (INCLUDE by slug, no cycles,
/// at most 1,000 field values).
extension CollectorApp {
    func mountSegments(_ router: inout Router) {
        mountConfigKind(&router, kind: "segment", path: "segment", deletable: false) { body, account, id, state in
            Self.validateSegment(body, account: account, id: id, state: state)
        }
        // Lookup by slug as well as id.
        router.get("/api/segment/slug/{slug}") { [self] request in
            await authorized(request, .read) { principal in
                let slug = (request[parameter: "slug"] ?? "").lowercased()
                guard let doc = view.read({ $0.documents(account: principal.account, kind: "segment") }).first(where: { $0.body["slug"]?.stringValue?.lowercased() == slug }) else {
                    return .error(404, "no audience with slug '\(slug)'")
                }
                return .json(200, data: doc.apiJSON())
            }
        }
        router.delete("/api/segment/{id}") { [self] request in
            await authorized(request, .admin) { principal in
                let id = request[parameter: "id"] ?? ""
                let docs = view.read { $0.documents(account: principal.account, kind: "segment") }
                guard let doc = docs.first(where: { $0.key.id == id }), let slug = doc.body["slug"]?.stringValue else {
                    return .error(404, "no audience '\(id)'")
                }
                let defs = docs.compactMap { d -> AudienceSet.Definition? in
                    guard let s = d.body["slug"]?.stringValue, let f = d.body["filterql"]?.stringValue else { return nil }
                    return AudienceSet.Definition(id: d.key.id, slug: s, filterQL: f)
                }
                let dependents = (try? AudienceSet(defs))?.dependents(of: slug) ?? []
                // Export jobs that use this audience or one that will be deleted with it.
                let jobs = view.read { state in
                    Set(([slug] + dependents).flatMap { Self.jobsUsing($0, account: principal.account, state: state) }).sorted()
                }
                let cascade: Bool
                do throws(QueryParameterError) { cascade = try request.flag("cascade") } catch { return error.response }
                if (!dependents.isEmpty || !jobs.isEmpty) && !cascade {
                    let names = dependents.map { "audience \($0)" } + jobs.map { "export job \($0)" }
                    return .json(409, message: "audience '\(slug)' is used by \(names.joined(separator: ", ")); delete them first or use ?cascade=true",
                                 data: ["dependents": .array(dependents.map(JSONValue.string)), "jobs": .array(jobs.map(JSONValue.string))])
                }
                for job in jobs {
                    do throws(ConfigWriteError) {
                        try await writer.delete(ConfigKey(account: principal.account, kind: "job", id: job), expectedVersion: nil)
                    } catch {
                        if case .notFound = error { continue }
                        return Self.writeFailure(error)
                    }
                }
                // Dependents first, so no audience ever includes a missing one.
                let ids = dependents.reversed().compactMap { s in docs.first { $0.body["slug"]?.stringValue == s }?.key.id } + [id]
                for victim in ids {
                    do throws(ConfigWriteError) {
                        try await writer.delete(ConfigKey(account: principal.account, kind: "segment", id: victim), expectedVersion: nil)
                    } catch {
                        if case .notFound = error { continue }
                        return Self.writeFailure(error)
                    }
                }
                return .json(200, message: "deleted \(ids.count) audience(s); no profile was deleted", data: ["deleted": .array(ids.map(JSONValue.string)), "deleted_jobs": .array(jobs.map(JSONValue.string))])
            }
        }
    }

    /// The members an audience document is made of.
    static let segmentMembers = ["id", "name", "slug", "description", "filterql", "rules", "api_accessible"]

    static func validateSegment(_ body: [String: JSONValue], account: String, id: String, state: ConfigState) -> Result<[String: JSONValue], ConfigValidationError> {
        if let problem = DocumentMembers.stray(body, known: segmentMembers, what: "an audience", allowingMetadata: true) {
            return .failure(ConfigValidationError(problem))
        }
        var out = body.filter { !DocumentMembers.metadata.contains($0.key) || $0.key == "id" }
        if let accessible = body["api_accessible"], accessible != .null, accessible.boolValue == nil {
            return .failure(ConfigValidationError("\"api_accessible\" must be true or false"))
        }
        if let description = body["description"], description != .null, description.stringValue == nil {
            return .failure(ConfigValidationError("\"description\" must be a string"))
        }
        guard let slug = body["slug"]?.stringValue, Identifier.documentProblem(slug) == nil else {
            return .failure(ConfigValidationError("\"slug\" is required: letters, digits, '_', '.', '-'"))
        }
        if AudienceSet.builtIns.contains(where: { $0.slug == slug.lowercased() }) {
            return .failure(ConfigValidationError("slug '\(slug)' is a built-in audience"))
        }
        guard let name = body["name"]?.stringValue, !name.isEmpty else { return .failure(ConfigValidationError("\"name\" is required")) }
        guard name.utf8.count <= 256 else { return .failure(ConfigValidationError("\"name\" is longer than 256 bytes")) }
        let filterQL: String
        if let text = body["filterql"]?.stringValue {
            filterQL = text
        } else if let rules = body["rules"] {
            do throws(AudienceError) {
                filterQL = try RuleTree.filterQL(rules)
            } catch {
                return .failure(ConfigValidationError(error.message))
            }
            out["filterql"] = .string(filterQL)
        } else {
            return .failure(ConfigValidationError("give \"filterql\" or a rule tree in \"rules\""))
        }
        // Validate with the account's other audiences (slug uniqueness, INCLUDEs, cycles, limits).
        let others = state.documents(account: account, kind: "segment").filter { $0.key.id != id }
        if others.contains(where: { $0.body["slug"]?.stringValue?.lowercased() == slug.lowercased() }) {
            return .failure(ConfigValidationError("slug '\(slug)' is already used by another audience"))
        }
        var defs = others.compactMap { d -> AudienceSet.Definition? in
            guard let s = d.body["slug"]?.stringValue, let f = d.body["filterql"]?.stringValue else { return nil }
            return AudienceSet.Definition(id: d.key.id, slug: s, filterQL: f)
        }
        defs.append(AudienceSet.Definition(id: id, slug: slug, filterQL: filterQL))
        do throws(AudienceError) {
            _ = try AudienceSet(defs)
        } catch {
            return .failure(ConfigValidationError(error.message))
        }
        out["slug"] = .string(slug.lowercased())
        if out["api_accessible"] == nil { out["api_accessible"] = false }
        return .success(out)
    }
}
