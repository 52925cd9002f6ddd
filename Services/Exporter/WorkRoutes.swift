import ExportCore
import HTTP
import Model
import Pipeline
import Runtime

/// Job monitoring on the exporter (port 8083): `GET /api/work` (every job's status),
/// `GET /api/work/{id}`, `GET /api/work/{id}/logs?limit=`, `GET /api/work/{id}/deadletter`,
/// and `POST /api/work/{id}/replay` (admin; re-sends the dead-lettered batches once each).
/// Statuses cover the partitions this instance owns; totals come from `cdp.exports`.
extension ExporterApp {
    public var router: Router {
        var router = Router()
        router.get("/api/work") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let all = jobs().filter { $0.account == p.account }
                return .json(200, data: .array(all.map(status)))
            }
        }
        router.get("/api/work/{id}") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                guard let job = job(account: p.account, id: request[parameter: "id"] ?? "") else { return .error(404, "no export job '\(request[parameter: "id"] ?? "")'") }
                return .json(200, data: status(job))
            }
        }
        router.get("/api/work/{id}/logs") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                guard job(account: p.account, id: id) != nil else { return .error(404, "no export job '\(id)'") }
                let limit: Int
                do throws(QueryParameterError) { limit = try request.integer("limit", default: 100, in: 1...JobMonitor.maxEntries) } catch { return error.response }
                let entries = monitor(account: p.account, job: id).snapshot.entries.suffix(limit).reversed()
                return .json(200, data: .array(entries.map { e in
                    var o: [String: JSONValue] = ["ts": .string(Timestamp.rfc3339Millis(epochMs: e.atMs)), "level": .string(e.level), "message": .string(e.message)]
                    if let b = e.batchID { o["batch_id"] = .string(b) }
                    if let p = e.partition { o["partition"] = .int(Int64(p)) }
                    return .object(o)
                }))
            }
        }
        router.get("/api/work/{id}/deadletter") { [self] request in
            switch auth.authenticate(request, role: .read) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                guard job(account: p.account, id: id) != nil else { return .error(404, "no export job '\(id)'") }
                let dead = exports.withLock { $0.deadBatches(account: p.account, job: id) }
                return .json(200, data: .array(dead.map { d in
                    ["batch_id": .string(d.batchID), "partition": .int(Int64(d.partition)), "events": .int(Int64(d.items)), "reason": .string(d.reason),
                     "ts": .string(Timestamp.rfc3339Millis(epochMs: d.atMs)), "replayable": .bool(d.payload != nil)]
                }))
            }
        }
        router.post("/api/work/{id}/replay") { [self] request in
            switch auth.authenticate(request, role: .admin) {
            case .failure(let f): return f.response
            case .success(let p):
                let id = request[parameter: "id"] ?? ""
                guard let job = job(account: p.account, id: id) else { return .error(404, "no export job '\(id)'") }
                return await replay(job, only: request.query("batch_id"))
            }
        }
        router.mountOperations(service: "cdp-exporter", metrics: metrics) { [self] in readiness }
        return router
    }

    /// A job's status as this instance sees it.
    func status(_ job: ExportJob) -> JSONValue {
        let own = lanes.withLock { $0.values.filter { $0.key.account == job.account && $0.key.job == job.id } }
        let recorded = exports.withLock { s in s.lanes.filter { $0.key.account == job.account && $0.key.job == job.id }.map(\.value) }
        var queued = 0
        var oldest: Int64?
        var syncing = false
        for lane in own {
            lane.queue.withLock { q in
                queued += q.count
                if let o = q.oldestQueuedMs { oldest = min(oldest ?? o, o) }
                if !q.position.existingDone { syncing = true }
            }
        }
        let m = monitor(account: job.account, job: job.id).snapshot
        let state: String
        if job.paused { state = "paused" } else if !m.retrying.isEmpty { state = "failing" } else if syncing { state = "backfilling" } else { state = "running" }
        let now = clock()
        var out: [String: JSONValue] = [
            "id": .string(job.id), "name": .string(job.name), "type": .string(job.kind.rawValue), "state": .string(state),
            "generation": .int(job.generation), "segments": .array(job.segments.map(JSONValue.string)),
            "delivered": .int(recorded.reduce(0) { $0 + $1.delivered }), "dead_lettered": .int(recorded.reduce(0) { $0 + $1.deadLettered }),
            "failed_attempts": .int(m.failedAttempts), "queued": .int(Int64(queued)), "lag_ms": .int(oldest.map { max(0, now - $0) } ?? 0),
            "partitions": .array(own.map(\.key.partition).sorted().map { .int(Int64($0)) }),
        ]
        if let e = m.lastError { out["last_error"] = .string(e) }
        if let t = m.lastErrorMs { out["last_error_at"] = .string(Timestamp.rfc3339Millis(epochMs: t)) }
        if let t = m.lastSuccessMs { out["last_success_at"] = .string(Timestamp.rfc3339Millis(epochMs: t)) }
        return .object(out)
    }

    /// Re-sends dead-lettered batches (their original payload, freshly signed) once each; those
    /// accepted leave the dead-letter list.
    func replay(_ job: ExportJob, only: String?) async -> HTTPResponse {
        let dead = exports.withLock { $0.deadBatches(account: job.account, job: job.id) }.filter { only == nil || $0.batchID == only }
        if let only, dead.isEmpty { return .error(404, "no dead-lettered batch '\(only)'") }
        var replayed: [JSONValue] = []
        var failed: [JSONValue] = []
        let monitor = monitor(account: job.account, job: job.id)
        for d in dead {
            guard let payload = d.payload else {
                failed.append(["batch_id": .string(d.batchID), "reason": "payload was too large to keep"])
                continue
            }
            switch await attempt(Array(payload.utf8), batchID: d.batchID, job: job) {
            case .delivered:
                if await record([.replayed(account: job.account, job: job.id, batchID: d.batchID)]) {
                    replayed.append(.string(d.batchID))
                    monitor.log("info", "dead-lettered batch replayed", atMs: clock(), batchID: d.batchID, partition: d.partition)
                } else {
                    failed.append(["batch_id": .string(d.batchID), "reason": "delivered, but cdp.exports did not take the note"])
                }
            case .retry(let reason, _), .terminal(let reason):
                failed.append(["batch_id": .string(d.batchID), "reason": .string(reason)])
                monitor.log("warning", "replay failed: \(reason)", atMs: clock(), batchID: d.batchID, partition: d.partition)
            }
        }
        return .json(failed.isEmpty ? 200 : 207, message: "\(replayed.count) batch(es) replayed, \(failed.count) failed",
                     data: ["replayed": .array(replayed), "failed": .array(failed)])
    }
}
