/// An audience's size over time, from its enters and exits (hourly buckets, UTC).
public struct SizeHistory: Sendable, Equatable {
    /// Hour start (epoch ms) → net change in that hour.
    public private(set) var deltas: [Int64: Int] = [:]

    public init() {}

    static let hour: Int64 = 3_600_000

    public mutating func record(_ action: Transition.Action, atMs: Int64) {
        let bucket = (atMs >= 0 ? atMs : atMs - SizeHistory.hour + 1) / SizeHistory.hour * SizeHistory.hour
        deltas[bucket, default: 0] += action == .enter ? 1 : -1
    }

    /// Adds another history's changes (another partition's share of the same audience).
    public mutating func merge(_ other: SizeHistory) {
        deltas.merge(other.deltas, uniquingKeysWith: +)
    }

    /// The size at the end of each hour that had changes, oldest first.
    public var hourly: [(hourStartMs: Int64, size: Int)] {
        var size = 0
        return deltas.keys.sorted().map { bucket in
            size += deltas[bucket]!
            return (bucket, size)
        }
    }

    /// The size at the end of each day that had changes, oldest first.
    public var daily: [(dayStartMs: Int64, size: Int)] {
        var out: [(Int64, Int)] = []
        for (bucket, size) in hourly {
            let day = bucket / 86_400_000 * 86_400_000
            if out.last?.0 == day { out[out.count - 1].1 = size } else { out.append((day, size)) }
        }
        return out
    }

    /// The size as of `atMs`.
    public func size(at atMs: Int64) -> Int {
        deltas.filter { $0.key <= atMs }.values.reduce(0, +)
    }
}
