import ExportCore
import Foundation
import HTTP
import Model
import Runtime

/// Sends one batch payload to a job's destination once and says what happened.
extension ExporterApp {
    /// The bytes a batch becomes for the job's destination.
    func payload(_ batch: Batch, job: ExportJob, partition: Int32) -> [UInt8] {
        let keys = Set(batch.items.map { "\(job.account)/\($0.profile)" })
        let snapshots = partitions.withLock { parts -> [String: ProfileSnapshot] in
            var out: [String: ProfileSnapshot] = [:]
            for k in keys { out[k] = parts[partition]?.profiles[k] }
            return out
        }
        let lookup: (String) -> ProfileSnapshot? = { snapshots["\(job.account)/\($0)"] }
        switch job.destination {
        case .webhook: return batch.webhookBody(profiles: lookup, fields: job.fields)
        case .file(_, .csv): return batch.csv(profiles: lookup, fields: job.fields)
        case .file(_, .ndjson): return batch.ndjson(profiles: lookup, fields: job.fields)
        }
    }

    /// One attempt to hand `payload` to the destination.
    func attempt(_ payload: [UInt8], batchID: String, job: ExportJob) async -> AttemptOutcome {
        switch job.destination {
        case .webhook(let url, let secret, let headers):
            let timestamp = String(clock() / 1000)
            var h: [(String, String)] = [("Content-Type", "application/json"), ("User-Agent", "cdp-exporter/\(CDPVersion.current)"),
                                         ("X-CDP-Job", job.id), ("X-CDP-Batch-Id", batchID), ("X-CDP-Timestamp", timestamp)]
            if let secret { h.append(("X-CDP-Signature", WebhookSignature.sign(secret: secret, timestamp: timestamp, body: payload))) }
            for (k, v) in headers.sorted(by: { $0.key < $1.key }) { h.append((k, v)) }
            do {
                let response = try await httpClient(for: job).send("POST", url, headers: h, body: payload)
                return AttemptOutcome.http(status: response.status, retryAfter: response.header("Retry-After"), date: response.header("Date"), nowMs: clock())
            } catch let error as HTTPClientError {
                if case .invalidURL = error { return .terminal(reason: error.description) }
                return .retry(reason: error.description, afterMs: nil)
            } catch {
                return .retry(reason: "\(error)", afterMs: nil)
            }
        case .file(let dir, let format):
            return Self.writeFile(payload, dir: dir, name: "\(job.id)_\(batchID).\(format.rawValue)")
        }
    }

    /// Writes a batch file under a temporary name and renames it into place, so readers never
    /// see a partial file; the same batch always gets the same name.
    static func writeFile(_ payload: [UInt8], dir: String, name: String) -> AttemptOutcome {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let final = (dir as NSString).appendingPathComponent(name)
            let temp = (dir as NSString).appendingPathComponent(".\(name).tmp-\(getpid())")
            guard fm.createFile(atPath: temp, contents: Data(payload)) else {
                return .retry(reason: "cannot write \(temp)", afterMs: nil)
            }
            guard rename(temp, final) == 0 else {
                let why = String(cString: strerror(errno))
                try? fm.removeItem(atPath: temp)
                return .retry(reason: "cannot rename into \(final): \(why)", afterMs: nil)
            }
            return .delivered
        } catch {
            return .retry(reason: "cannot create \(dir): \(error.localizedDescription)", afterMs: nil)
        }
    }

    /// Each job gets its own HTTP client (its own connections), so one slow destination does
    /// not hold connections another job needs.
    func httpClient(for job: ExportJob) -> HTTPClient {
        httpClients.withLock { clients in
            if let c = clients["\(job.account)/\(job.id)"] { return c }
            let c = HTTPClient(timeoutSeconds: settings.httpTimeoutSeconds, maxResponseBytes: 1 << 20)
            clients["\(job.account)/\(job.id)"] = c
            return c
        }
    }

    /// Posts a Slack-compatible `{"text": ...}` message to the job's alert URL (best effort),
    /// after the job's previous alert has been sent or has failed.
    func alert(_ job: ExportJob, _ text: String) {
        guard let url = job.alertURL else { return }
        let body = JSONValue.object(["text": .string(text)]).serializedBytes()
        let client = httpClient(for: job)
        let logger = self.logger
        alertChains.withLock { chains in
            let key = "\(job.account)/\(job.id)"
            let previous = chains[key]
            chains[key] = Task {
                await previous?.value
                do {
                    let r = try await client.send("POST", url, headers: [("Content-Type", "application/json")], body: body)
                    if !(200..<300).contains(r.status) { logger.warning("alert not accepted", ["job": job.id, "status": String(r.status)]) }
                } catch {
                    logger.warning("alert failed", ["job": job.id, "error": "\(error)"])
                }
            }
        }
    }
}
