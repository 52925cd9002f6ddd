import HTTP
import Pipeline
import Model
import Runtime

/// Segment's HTTP tracking API (`/v1/track`, `identify`, `page`, `screen`, `group`, `alias`,
/// `batch`), so existing analytics clients can send to us unchanged: the write key travels as
/// the HTTP Basic user name and is one of our API keys with the `collect` role.
///
/// Every message becomes one event on the stream `segment` (or `?stream=`) whose data is the
/// message as sent (`type`, `userId`, `anonymousId`, `traits`, `properties`, `context`, ...);
/// `messageId` is the event id (so client retries de-duplicate) and `timestamp` (else
/// `originalTimestamp`, else `sentAt`) the event time.
extension CollectorApp {
    static let segmentTypes: Set<String> = ["track", "identify", "page", "screen", "group", "alias"]

    func mountSegment(_ router: inout Router) {
        for type in Self.segmentTypes.sorted() {
            router.post("/v1/\(type)") { [self] request in
                await authorized(request, .collect) { principal in
                    await segment(request, principal: principal, singleType: type)
                }
            }
        }
        router.post("/v1/batch") { [self] request in
            await authorized(request, .collect) { principal in
                await segment(request, principal: principal, singleType: nil)
            }
        }
    }

    func segment(_ request: HTTPRequest, principal: Principal, singleType: String?) async -> HTTPResponse {
        let stream = request.query("stream") ?? "segment"
        if let problem = Identifier.userStreamProblem(stream) { return .error(400, problem) }
        let body: [String: JSONValue]
        switch Self.jsonObject(request) {
        case .success(let o): body = o
        case .failure(let r): return r
        }
        let messages: [JSONValue]
        if let singleType {
            var m = body
            m["type"] = .string(singleType)
            messages = [.object(m)]
        } else {
            guard let batch = body["batch"]?.arrayValue else { return .error(400, "\"batch\" must be an array of messages") }
            guard batch.count <= settings.limits.maxEventsPerRequest else {
                return .error(413, "more than \(settings.limits.maxEventsPerRequest) messages in one batch")
            }
            // Batch-level context and integrations apply to messages that do not carry their own.
            messages = batch.map { item in
                guard case .object(var m) = item else { return item }
                if m["context"] == nil, let c = body["context"] { m["context"] = c }
                return .object(m)
            }
        }
        var batch = EventBatch()
        let receivedMs = Timestamp.nowMs()
        for (index, message) in messages.enumerated() {
            switch Self.segmentEvent(message, account: principal.account, stream: stream, receivedMs: receivedMs, limits: settings.limits) {
            case .success(let event):
                batch.events.append(event)
                batch.encoded.append(event.serialized())
            case .failure(let reason): batch.errors.append(.init(index: index, line: nil, reason: reason.message))
            }
        }
        let dryRun: Bool
        do throws(QueryParameterError) { dryRun = try request.flag("dryrun") } catch { return error.response }
        return await publish(batch, stream: stream, account: principal.account, dryRun: dryRun)
    }

    struct SegmentReject: Error {
        let message: String
    }

    static func segmentEvent(_ message: JSONValue, account: String, stream: String, receivedMs: Int64,
                             limits: CollectLimits) -> Result<EventRecord, SegmentReject> {
        guard case .object(let m) = message else { return .failure(SegmentReject(message: "message must be a JSON object")) }
        guard let type = m["type"]?.stringValue, segmentTypes.contains(type) else {
            return .failure(SegmentReject(message: "\"type\" must be one of \(segmentTypes.sorted().joined(separator: ", "))"))
        }
        let user = m["userId"].flatMap { $0 == .null ? nil : $0 }
        let anonymous = m["anonymousId"].flatMap { $0 == .null ? nil : $0 }
        if user == nil, anonymous == nil, type != "alias" {
            return .failure(SegmentReject(message: "a \(type) message needs userId or anonymousId"))
        }
        if message.serialized().utf8.count > limits.maxEventBytes {
            return .failure(SegmentReject(message: "message larger than \(limits.maxEventBytes) bytes"))
        }
        var timestamp = receivedMs
        for field in ["timestamp", "originalTimestamp", "sentAt"] {
            if let raw = m[field], raw != .null {
                guard let parsed = EventTime.parse(raw) else {
                    return .failure(SegmentReject(message: "\"\(field)\" must be an ISO 8601 / RFC 3339 time"))
                }
                timestamp = parsed
                break
            }
        }
        let id: String
        switch m["messageId"] {
        case .string(let s)? where !s.isEmpty && s.utf8.count <= 256: id = s
        case nil, .null?: id = "seg_" + String(receivedMs, radix: 36) + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        default: return .failure(SegmentReject(message: "\"messageId\" must be a non-empty string"))
        }
        return .success(EventRecord(account: account, stream: stream, id: id, timestampMs: timestamp, data: m))
    }
}
