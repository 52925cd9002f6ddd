import HTTP
import IdentityCore
import Model
import Pipeline
import QL
import Runtime

/// The schema API: `GET /api/schema`, `PUT /api/schema` (a new version; `?dryrun=true` with
/// sample `events` returns the profiles they would produce), `GET /api/schema/history`,
/// `GET /api/schema/{version}`. The current schema is document `schema/current`; every version
/// is also kept as `schemaversion/<n>` for the history.
extension CollectorApp {
    func mountSchema(_ router: inout Router) {
        router.get("/api/schema") { [self] request in
            await authorized(request, .read) { principal in
                let key = ConfigKey(account: principal.account, kind: "schema", id: "current")
                guard let doc = view.read({ $0.document(key) }) else {
                    return .json(200, message: "default schema (none saved yet)", data: Self.defaultSchemaDocument())
                }
                return .json(200, data: doc.apiJSON(), headers: [("ETag", "\"\(doc.version)\"")])
            }
        }
        router.put("/api/schema") { [self] request in
            await authorized(request, .admin) { principal in
                var body: [String: JSONValue]
                switch Self.jsonObject(request) {
                case .success(let o): body = o
                case .failure(let r): return r
                }
                let samples = body.removeValue(forKey: "events")
                if let problem = AccountSchema.strictProblem(body) { return .error(400, "invalid schema: \(problem)") }
                // A document fetched with GET comes back with its metadata: not part of the schema.
                body = body.filter { !DocumentMembers.metadata.contains($0.key) }
                let schema: AccountSchema
                do throws(AccountSchema.ValidationError) {
                    schema = try AccountSchema.parse(.object(body))
                } catch {
                    return .error(400, "invalid schema: \(error)")
                }
                let dryRun: Bool
                do throws(QueryParameterError) { dryRun = try request.flag("dryrun") } catch { return error.response }
                if dryRun {
                    return Self.dryRun(schema, samples: samples?.arrayValue ?? [], account: principal.account)
                }
                let expected: Int64?
                switch Self.ifMatch(request) {
                case .success(let v): expected = v
                case .failure(let r): return r
                }
                let key = ConfigKey(account: principal.account, kind: "schema", id: "current")
                do throws(ConfigWriteError) {
                    let doc = try await writer.put(key, body: body, expectedVersion: expected, by: principal.actor, nowMs: Timestamp.nowMs())
                    // The history copy of this version (immutable).
                    _ = try? await writer.put(ConfigKey(account: principal.account, kind: "schemaversion", id: String(doc.version)),
                                              body: body, expectedVersion: 0, by: principal.actor, nowMs: doc.updatedMs)
                    return .json(200, message: "schema version \(doc.version) saved", data: doc.apiJSON(), headers: [("ETag", "\"\(doc.version)\"")])
                } catch {
                    return Self.writeFailure(error)
                }
            }
        }
        router.get("/api/schema/history") { [self] request in
            await authorized(request, .read) { principal in
                let versions = view.read { $0.documents(account: principal.account, kind: "schemaversion") }
                    .sorted { (Int($0.key.id) ?? 0) > (Int($1.key.id) ?? 0) }
                return .json(200, data: .array(versions.map { ["version": .string($0.key.id), "updated": .string(Timestamp.rfc3339Millis(epochMs: $0.updatedMs)),
                                                                "updated_by": .string($0.updatedBy)] }))
            }
        }
        router.get("/api/schema/{version}") { [self] request in
            await authorized(request, .read) { principal in
                let version = request[parameter: "version"] ?? ""
                guard let doc = view.read({ $0.document(ConfigKey(account: principal.account, kind: "schemaversion", id: version)) }) else {
                    return .error(404, "no schema version \(version)")
                }
                return .json(200, data: .object(doc.body))
            }
        }
    }

    static func defaultSchemaDocument() -> JSONValue {
        let s = AccountSchema.defaultSchema()
        return ["identity_keys": .array(s.identity.keys.map { k in
                    ["field": .string(k.field), "rank": .int(Int64(k.rank)), "kind": .string(k.kind.rawValue), "capacity": .int(Int64(k.capacity)),
                     "on_full": .string(k.onFull.rawValue)] }),
                "max_identifiers": .int(Int64(s.identity.maxIdentifiers)), "mappings": .string(s.mappingText)]
    }

    /// The profiles sample events would produce under `schema` (nothing is written).
    static func dryRun(_ schema: AccountSchema, samples: [JSONValue], account: String) -> HTTPResponse {
        var graph = IdentityGraph(account: account, schema: schema.identity)
        var problems: [JSONValue] = []
        for (i, sample) in samples.prefix(10_000).enumerated() {
            guard case .object(var o) = sample else {
                problems.append(["index": .int(Int64(i)), "reason": "not an object"])
                continue
            }
            o["aid"] = .string(account)
            if o["stream"] == nil { o["stream"] = "web" }
            let event: EventRecord
            do throws(EventRecord.ParseError) {
                event = try EventRecord.parse(object: o, fallbackID: "sample-\(i)", fallbackTimestampMs: 0)
            } catch {
                problems.append(["index": .int(Int64(i)), "reason": .string("not an event: \(error)")])
                continue
            }
            switch EventMapper.map(event, schema: schema) {
            case .success(let m): _ = graph.apply(m)
            case .failure(let e): problems.append(["index": .int(Int64(i)), "reason": .string(e.description)])
            }
        }
        let profiles = graph.profiles.values.sorted { $0.id < $1.id }.map { $0.json(account: account) }
        return .json(200, message: "dry run: nothing was saved", data: ["profiles": .array(profiles), "problems": .array(problems)])
    }
}
