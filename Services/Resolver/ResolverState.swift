import IdentityCore
import Model
import Runtime

/// Counters per stream for `GET /api/stream`.
public struct StreamStats: Sendable, Equatable {
    public var events = 0
    public var lastEventMs: Int64 = 0
    public var withoutIdentity = 0
    public var deadLettered = 0
    public var filtered = 0
    /// Field → an example value (first 50 fields seen).
    public var fieldsSeen: [String: JSONValue] = [:]
    /// The last raw events (at most 20; kept as records, turned into JSON only when asked for).
    public var recent: [EventRecord] = []

    /// Counts one mapped event (mutated in place in the state: no copy per event).
    mutating func note(_ event: EventRecord, withoutIdentity: Bool) {
        events += 1
        lastEventMs = max(lastEventMs, event.timestampMs)
        if withoutIdentity { self.withoutIdentity += 1 }
        if fieldsSeen.count < 50 {
            for (k, v) in event.data where fieldsSeen.count < 50 && fieldsSeen[k] == nil { fieldsSeen[k] = v }
        }
        recent.append(event)
        if recent.count > 40 { recent.removeFirst(recent.count - 20) }
    }
}

/// Everything the resolver holds, behind one lock: graphs per account, where each account's
/// events come from, stream statistics.
public struct ResolverStateData: Sendable {
    public var graphs: [String: IdentityGraph] = [:]
    public var accountPartition: [String: Int32] = [:]
    public var streams: [String: [String: StreamStats]] = [:] // account → stream → stats
    /// Deletion requests done: request id → (account, event time, profile deleted or nil).
    public var deletions: [String: (account: String, atMs: Int64, profile: String?)] = [:]
}
