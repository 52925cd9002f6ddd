import QL

/// How one identity field behaves in the graph.
public struct IdentityKey: Sendable, Equatable {
    public enum Kind: String, Sendable { case string, set }
    public enum OnFull: String, Sendable { case reject, evictOldest = "evict_oldest" }

    public var field: String
    /// 1 is the strongest.
    public var rank: Int
    public var kind: Kind
    /// Most values a profile may hold for a set key.
    public var capacity: Int
    public var onFull: OnFull
    /// Identifiers not seen for this long (event time) are released.
    public var ttlDays: Int?
    public var blocked: Set<String>

    public static let defaultBlocked: Set<String> = ["", "null", "undefined", "anonymous", "-1", "none", "nil"]

    public init(field: String, rank: Int, kind: Kind = .string, capacity: Int = 1, onFull: OnFull = .reject,
                ttlDays: Int? = nil, blocked: Set<String> = IdentityKey.defaultBlocked) {
        self.field = field
        self.rank = rank
        self.kind = kind
        self.capacity = kind == .string ? 1 : max(1, capacity)
        self.onFull = onFull
        self.ttlDays = ttlDays
        self.blocked = blocked
    }

    /// Blocked values never identify anyone: the list, plus all-zero / all-dash strings.
    /// (Called for every identifier of every event: the common case — no padding, longer than any
    /// blocked word — does no allocation.)
    public func isBlocked(_ value: String) -> Bool {
        let utf8 = value.utf8
        let padded = utf8.first.map(Self.isSpace) == true || utf8.last.map(Self.isSpace) == true
        let trimmed = padded ? value.trimmingCharacters(in: .whitespaces) : value
        if trimmed.utf8.count <= blocked.reduce(0, { max($0, $1.utf8.count) }), blocked.contains(trimmed.lowercased()) { return true }
        return trimmed.utf8.allSatisfy { $0 == 0x30 || $0 == 0x2D || $0 == 0x2E || $0 == 0x3A }
    }

    /// ASCII space or tab, or any non-ASCII byte (maybe a Unicode space: the slow path decides).
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b >= 0x80 }
}

/// The LQL merge operators (an unknown name behaves as `latest`; schemas are validated first).
public enum MergeOperator: String, Sendable {
    case latest, oldest, min, max, sum, merge, latestmap, oldestmap, mapmin, mapmax
}

/// A profile field: its kind and merge operator (LQL names).
public struct FieldSpec: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var mergeOp: String { didSet { op = MergeOperator(rawValue: mergeOp) ?? .latest } }
    /// `mergeOp` parsed once (merges run per field per event).
    public private(set) var op: MergeOperator

    public init(name: String, kind: String, mergeOp: String? = nil) {
        self.name = name
        self.kind = kind
        let mergeOp = mergeOp ?? FieldSpec.defaultMergeOp(kind)
        self.mergeOp = mergeOp
        op = MergeOperator(rawValue: mergeOp) ?? .latest
    }

    /// Sets and maps accumulate by default; scalars keep the latest value.
    public static func defaultMergeOp(_ kind: String) -> String {
        switch kind {
        case "[]string", "ts[]string", "[]time": "merge"
        case "map[string]int", "map[string]number": "sum"
        case "map[string]string", "map[string]time", "map[string]bool": "latestmap"
        default: "latest"
        }
    }
}

/// The parts of an account's schema the identity core needs.
public struct IdentitySchema: Sendable, Equatable {
    public var keys: [IdentityKey]
    public var fields: [String: FieldSpec]
    /// Most identifiers per profile, not counting `evict_oldest` keys (Lytics: 50).
    public var maxIdentifiers: Int
    /// Events with the same id within this much event time are applied once.
    public var dedupeWindowMs: Int64

    public init(keys: [IdentityKey], fields: [FieldSpec] = [], maxIdentifiers: Int = 50, dedupeWindowMs: Int64 = 86_400_000) {
        self.keys = keys.sorted { ($0.rank, $0.field) < ($1.rank, $1.field) }
        self.fields = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
        self.maxIdentifiers = maxIdentifiers
        self.dedupeWindowMs = dedupeWindowMs
    }

    public func key(_ field: String) -> IdentityKey? { keys.first { $0.field == field } }
}
