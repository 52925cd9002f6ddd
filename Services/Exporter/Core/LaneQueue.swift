/// Where a lane (one job on one source partition) resumes: records of `cdp.memberships` and
/// `cdp.profiles` before these offsets have been delivered (or dead-lettered) for the job.
public struct LanePosition: Sendable, Equatable {
    public var generation: Int64
    public var memberships: Int64
    public var profiles: Int64
    /// The existing-users sync has been delivered completely.
    public var existingDone: Bool
    /// The last profile whose existing-users items were delivered (they go in profile order).
    public var existingCursor: String?

    public init(generation: Int64, memberships: Int64, profiles: Int64, existingDone: Bool, existingCursor: String? = nil) {
        self.generation = generation
        self.memberships = memberships
        self.profiles = profiles
        self.existingDone = existingDone
        self.existingCursor = existingCursor
    }
}

/// The items waiting for one lane, in the order they must be delivered, and the position that
/// acknowledging them reaches. Batches are taken from the front, one at a time.
public struct LaneQueue: Sendable {
    public private(set) var position: LanePosition
    private var items: [DeliveryItem] = []
    private var head = 0
    /// Existing-users items still queued.
    private var existingQueued = 0
    /// When the oldest queued item was queued (ms, caller's clock).
    private var queuedAt: [Int64] = []

    public init(position: LanePosition) {
        self.position = position
    }

    public var count: Int { items.count - head }
    public var isEmpty: Bool { head == items.count }
    public var oldestQueuedMs: Int64? { head < queuedAt.count ? queuedAt[head] : nil }

    /// Whether a record of the profiles / memberships topic at `offset` is live for this lane.
    public func isLive(membershipOffset offset: Int64) -> Bool { offset >= position.memberships }
    public func isLive(profileOffset offset: Int64) -> Bool { offset >= position.profiles }

    public mutating func append(_ new: [DeliveryItem], atMs: Int64) {
        for item in new {
            items.append(item)
            queuedAt.append(atMs)
            if item.source == .existing { existingQueued += 1 }
        }
    }

    /// The next batch: up to `max` items from the front (not removed until acknowledged).
    public func peek(max: Int) -> [DeliveryItem] {
        Array(items[head..<min(items.count, head + max)])
    }

    /// The front `count` items were delivered (or dead-lettered): drops them and returns the
    /// position to record.
    public mutating func acknowledge(_ count: Int) -> LanePosition {
        let taken = items[head..<min(items.count, head + count)]
        for item in taken {
            switch item.source {
            case .membership(let o): position.memberships = max(position.memberships, o + 1)
            case .profile(let o): position.profiles = max(position.profiles, o + 1)
            case .existing:
                existingQueued -= 1
                position.existingCursor = item.profile
            }
        }
        head += taken.count
        if existingQueued == 0 { position.existingDone = true }
        if head > 4096 && head * 2 > items.count {
            items.removeFirst(head)
            queuedAt.removeFirst(head)
            head = 0
        }
        return position
    }

    /// With nothing queued, the lane has handled every record before the consumer's positions.
    public mutating func advanceIdle(memberships: Int64, profiles: Int64) -> Bool {
        guard isEmpty else { return false }
        let before = position
        position.memberships = max(position.memberships, memberships)
        position.profiles = max(position.profiles, profiles)
        return position != before
    }

    /// Starts again (a new generation): drops what is queued.
    public mutating func reset(_ position: LanePosition) {
        self.position = position
        items = []
        queuedAt = []
        head = 0
        existingQueued = 0
    }
}
