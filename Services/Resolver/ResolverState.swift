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

/// What one shard of the resolver holds: graphs per account, where each account's events come
/// from, stream statistics, deletions done.
public struct ResolverStateData: Sendable {
    public var graphs: [String: IdentityGraph] = [:]
    public var accountPartition: [String: Int32] = [:]
    public var streams: [String: [String: StreamStats]] = [:] // account → stream → stats
    /// Deletion requests done: request id → (account, event time, profiles deleted — none, or
    /// one per stored form of the value that a profile held).
    public var deletions: [String: (account: String, atMs: Int64, profiles: [String])] = [:]
}

/// The resolver's state in shards by account, each behind its own lock, so that a batch's
/// accounts are resolved by several threads at once (an account always lives in one shard, so
/// its events stay in log order).
public final class ResolverState: Sendable {
    let shards: [Locked<ResolverStateData>]

    init(shards: Int) {
        self.shards = (0..<max(1, shards)).map { _ in Locked(ResolverStateData()) }
    }

    var shardCount: Int { shards.count }

    /// The shard of an account (FNV-1a of its id: stable across runs).
    func shardIndex(_ account: String) -> Int {
        if shards.count == 1 { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in account.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(h % UInt64(shards.count))
    }

    /// Runs `body` on the shard holding `account`.
    func withAccount<R>(_ account: String, _ body: (inout ResolverStateData) throws -> R) rethrows -> R {
        try shards[shardIndex(account)].withLock(body)
    }

    /// Runs `body` on every shard in turn.
    func forEachShard(_ body: (inout ResolverStateData) -> Void) {
        for shard in shards { shard.withLock(body) }
    }
}
