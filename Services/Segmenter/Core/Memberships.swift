/// An enter or exit of one profile in one audience.
public struct Transition: Sendable, Equatable, Hashable {
    public enum Action: String, Sendable { case enter, exit }
    public var action: Action
    public var audience: String
    public var profile: String
    /// The profile version it was computed from.
    public var version: Int64
    public var atMs: Int64

    public init(action: Action, audience: String, profile: String, version: Int64, atMs: Int64) {
        self.action = action
        self.audience = audience
        self.profile = profile
        self.version = version
        self.atMs = atMs
    }
}

/// Current memberships per profile; turns new evaluations into transitions. Stale or repeated
/// profile versions change nothing.
public struct Memberships: Sendable {
    public private(set) var current: [String: Set<String>] = [:]
    public private(set) var versions: [String: Int64] = [:]

    public init() {}

    /// Records the profile's audiences as of `version`; returns the transitions (sorted).
    public mutating func update(profile: String, version: Int64, audiences: Set<String>, atMs: Int64, force: Bool = false) -> [Transition] {
        if !force, let seen = versions[profile], seen > version { return [] }
        let before = current[profile] ?? []
        versions[profile] = max(versions[profile] ?? version, version)
        if audiences == before { return [] } // most changes move no audience: no set arithmetic
        current[profile] = audiences.isEmpty ? nil : audiences
        // Into arrays, not new sets (building a set hashes every member again).
        var entered: [String] = []
        var exited: [String] = []
        for a in audiences where !before.contains(a) { entered.append(a) }
        for a in before where !audiences.contains(a) { exited.append(a) }
        entered.sort()
        exited.sort()
        var out: [Transition] = []
        out.reserveCapacity(entered.count + exited.count)
        for a in exited { out.append(Transition(action: .exit, audience: a, profile: profile, version: version, atMs: atMs)) }
        for a in entered { out.append(Transition(action: .enter, audience: a, profile: profile, version: version, atMs: atMs)) }
        return out
    }

    /// A profile merged away or deleted exits everything.
    public mutating func remove(profile: String, version: Int64, atMs: Int64) -> [Transition] {
        let out = update(profile: profile, version: version, audiences: [], atMs: atMs, force: true)
        versions[profile] = nil
        return out
    }

    public func members(of audience: String) -> [String] {
        current.filter { $0.value.contains(audience) }.map(\.key).sorted()
    }

    public func size(of audience: String) -> Int {
        current.values.reduce(0) { $0 + ($1.contains(audience) ? 1 : 0) }
    }
}

/// Profiles to re-evaluate at given instants (relative-date audiences), earliest first.
/// A profile has at most one pending time: scheduling again replaces it.
public struct FlipQueue: Sendable {
    private var heap: [(at: Int64, profile: String)] = []
    private var pending: [String: Int64] = [:]

    public init() {}

    public var count: Int { pending.count }

    /// Every profile with its pending time (for snapshots).
    public var pendingTimes: [String: Int64] { pending }

    public mutating func schedule(_ profile: String, at: Int64?) {
        pending[profile] = at
        if let at { push((at, profile)) }
    }

    /// Profiles whose time has come (each once), removed from the queue.
    public mutating func due(_ nowMs: Int64) -> [String] {
        var out: [String] = []
        while let top = heap.first, top.at <= nowMs {
            pop()
            if pending[top.profile] == top.at {
                pending[top.profile] = nil
                out.append(top.profile)
            }
        }
        return out
    }

    public var nextDueMs: Int64? { heap.first?.at }

    private mutating func push(_ e: (at: Int64, profile: String)) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if (heap[parent].at, heap[parent].profile) <= (heap[i].at, heap[i].profile) { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private mutating func pop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count, (heap[l].at, heap[l].profile) < (heap[m].at, heap[m].profile) { m = l }
            if r < heap.count, (heap[r].at, heap[r].profile) < (heap[m].at, heap[m].profile) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
