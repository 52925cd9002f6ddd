import HTTP
import IdentityCore
import Pipeline
import Log
import Model
import Runtime

extension CollectorApp {
    func mountCollect(_ router: inout Router) {
        // GDPR erasure: a command on cdp.events, so it is ordered with the person's events.
        router.delete("/api/entity/user/{field}/{value}") { [self] request in
            await authorized(request, .admin) { principal in
                let field = request[parameter: "field"] ?? "", value = request[parameter: "value"] ?? ""
                guard !field.isEmpty, !value.isEmpty else { return .error(400, "name the identity field and value") }
                let requestID = "del_" + EventIDs.next().dropFirst(4)
                let command = EventRecord(account: principal.account, stream: "_commands", id: requestID, timestampMs: Timestamp.nowMs(),
                                          data: ["command": "delete", "field": .string(field), "value": .string(value), "request_id": .string(String(requestID))])
                do {
                    _ = try await producer.send(ProducerRecord(topic: settings.topics.events, key: Array(principal.account.utf8), value: command.serialized()))
                } catch {
                    return .error(503, "the deletion request could not be written: \(error)", headers: [("Retry-After", "2")])
                }
                var data: [String: JSONValue] = ["request_id": .string(String(requestID)), "status": "pending"]
                // Written all the same (a key dropped from the schema may still be held), but a
                // field that identifies nobody now is most likely a mistake: say so.
                let keys = view.read { state in
                    AccountSchema.inEffect(current: state.document(ConfigKey(account: principal.account, kind: "schema", id: "current")),
                                           history: state.documents(account: principal.account, kind: "schemaversion")).schema.identity.keys.map(\.field)
                }
                if !keys.contains(field) {
                    data["warning"] = .string("\(field) is not an identity key of this account (\(keys.joined(separator: ", "))): the request erases a profile only if one still holds \(field) = \(value) from an earlier schema")
                }
                return .json(202, message: "deletion requested; follow it at GET /api/entity/deletion/\(requestID) on the resolver", data: .object(data))
            }
        }
        router.post("/collect/json/{stream}") { [self] request in
            await authorized(request, .collect) { principal in
                await collect(request, principal: principal)
            }
        }
    }

    /// `POST /collect/json/{stream}`: validates, writes to `cdp.events` (key = account id) and
    /// answers 200 only after the broker acknowledged every accepted event.
    func collect(_ request: HTTPRequest, principal: Principal) async -> HTTPResponse {
        let stream = request[parameter: "stream"] ?? ""
        if let problem = Identifier.userStreamProblem(stream) { return .error(400, problem) }
        let dryRun: Bool
        do throws(QueryParameterError) { dryRun = try request.flag("dryrun") } catch { return error.response }
        let options = EventBatch.Options(account: principal.account, stream: stream, timestampField: request.query("timestamp_field"),
                                         receivedMs: Timestamp.nowMs(), limits: settings.limits)
        let batch: EventBatch
        do throws(EventBatch.Failure) {
            batch = try EventBatch.parse(body: request.body, contentType: request.headers["content-type"], options: options)
        } catch {
            collectMetrics.events(stream, accepted: 0, rejected: 1)
            if case .tooManyEvents = error { return .error(413, error.description) }
            return .error(400, error.description)
        }
        return await publish(batch, stream: stream, account: principal.account, dryRun: dryRun)
    }

    /// Writes the batch's events (all acknowledged, or 503) and answers with the counts.
    func publish(_ batch: EventBatch, stream: String, account: String, dryRun: Bool) async -> HTTPResponse {
        var data: [String: JSONValue] = [
            "accepted": .int(Int64(batch.events.count)), "rejected": .int(Int64(batch.errors.count)),
            "errors": .array(batch.errors.map(\.json)),
        ]
        if dryRun {
            data["records"] = .array(batch.events.map(\.json))
            return .json(200, message: "dry run: nothing was written", data: .object(data))
        }
        guard !batch.events.isEmpty else {
            collectMetrics.events(stream, accepted: 0, rejected: batch.errors.count)
            return .json(400, message: "no valid events in the request", data: .object(data))
        }
        // Back-pressure: refuse before writing anything rather than buffer without bound.
        let down = producer.unreachableForMs
        if down > settings.unavailableAfterMs {
            return .error(503, "the broker has been unreachable for \(down / 1000) s; retry later", headers: [("Retry-After", "5")])
        }
        if producer.inFlightCount + batch.events.count > producer.maxInFlight {
            return .error(503, "the collector is at its in-flight limit; retry later", headers: [("Retry-After", "1")])
        }
        let topic = settings.topics.events
        let key = Array(account.utf8)
        let results = await producer.send(batch.encoded.map { ProducerRecord(topic: topic, key: key, value: $0) })
        collectMetrics.queueDepth.set(Double(producer.inFlightCount))
        let failed = results.filter { if case .failure = $0 { true } else { false } }.count
        if failed > 0 {
            collectMetrics.brokerErrors.inc(UInt64(failed))
            let firstError = results.lazy.compactMap { if case .failure(let e) = $0 { "\(e)" } else { nil } }.first ?? ""
            logger.warning("events not acknowledged", ["stream": stream, "failed": String(failed), "error": firstError])
            data["accepted"] = .int(Int64(batch.events.count - failed))
            data["unacknowledged"] = .int(Int64(failed))
            return .json(503, message: "\(failed) of \(batch.events.count) events were not acknowledged by the broker (\(firstError)); retry — events that carry an _id are de-duplicated downstream",
                         data: .object(data), headers: [("Retry-After", "2")])
        }
        collectMetrics.events(stream, accepted: batch.events.count, rejected: batch.errors.count)
        return .json(200, message: batch.errors.isEmpty ? "ok" : "accepted \(batch.events.count), rejected \(batch.errors.count)", data: .object(data))
    }
}
