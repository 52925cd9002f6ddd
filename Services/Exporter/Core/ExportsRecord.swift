import Model
import Runtime

/// Records of `cdp.exports`, the exporter's log of what it delivered:
/// - `<aid>/<job>/lane/<partition>` — a lane's position after a batch (delivered or
///   dead-lettered), at a job's start, or at an idle checkpoint, with running totals;
/// - `<aid>/<job>/dead/<batch id>` — a dead-lettered batch with its payload, and later the
///   note that it was replayed.
public enum ExportsRecord: Sendable, Equatable {
    case lane(LaneRecord)
    case dead(DeadBatch)
    case replayed(account: String, job: String, batchID: String)

    public struct LaneRecord: Sendable, Equatable {
        public var account: String
        public var job: String
        public var partition: Int32
        public var position: LanePosition
        /// Why it was written: `start`, `delivered`, `dead_letter`, `checkpoint`.
        public var status: String
        public var batchID: String?
        public var delivered: Int64
        public var deadLettered: Int64
        public var atMs: Int64

        public init(account: String, job: String, partition: Int32, position: LanePosition, status: String, batchID: String?,
                    delivered: Int64, deadLettered: Int64, atMs: Int64) {
            self.account = account
            self.job = job
            self.partition = partition
            self.position = position
            self.status = status
            self.batchID = batchID
            self.delivered = delivered
            self.deadLettered = deadLettered
            self.atMs = atMs
        }
    }

    public struct DeadBatch: Sendable, Equatable {
        public var account: String
        public var job: String
        public var partition: Int32
        public var batchID: String
        public var items: Int
        public var reason: String
        /// The payload as sent (webhook JSON or file contents); nil when it was too large to keep.
        public var payload: String?
        public var atMs: Int64

        public init(account: String, job: String, partition: Int32, batchID: String, items: Int, reason: String, payload: String?, atMs: Int64) {
            self.account = account
            self.job = job
            self.partition = partition
            self.batchID = batchID
            self.items = items
            self.reason = reason
            self.payload = payload
            self.atMs = atMs
        }
    }

    /// Payloads above this are not kept in the dead-letter record (the record must fit a broker message).
    public static let maxPayloadBytes = 768 * 1024

    public var key: String {
        switch self {
        case .lane(let l): "\(l.account)/\(l.job)/lane/\(l.partition)"
        case .dead(let d): "\(d.account)/\(d.job)/dead/\(d.batchID)"
        case .replayed(let a, let j, let b): "\(a)/\(j)/dead/\(b)"
        }
    }

    public var json: JSONValue {
        switch self {
        case .lane(let l):
            return ["v": 1, "type": "lane", "aid": .string(l.account), "job": .string(l.job), "partition": .int(Int64(l.partition)),
                    "generation": .int(l.position.generation), "memberships_offset": .int(l.position.memberships),
                    "profiles_offset": .int(l.position.profiles), "existing_done": .bool(l.position.existingDone),
                    "existing_cursor": l.position.existingCursor.map(JSONValue.string) ?? .null, "status": .string(l.status),
                    "batch_id": l.batchID.map(JSONValue.string) ?? .null, "delivered": .int(l.delivered), "dead_lettered": .int(l.deadLettered),
                    "at": .string(Timestamp.rfc3339Millis(epochMs: l.atMs))]
        case .dead(let d):
            return ["v": 1, "type": "dead", "aid": .string(d.account), "job": .string(d.job), "partition": .int(Int64(d.partition)),
                    "batch_id": .string(d.batchID), "items": .int(Int64(d.items)), "reason": .string(d.reason),
                    "payload": d.payload.map(JSONValue.string) ?? .null, "at": .string(Timestamp.rfc3339Millis(epochMs: d.atMs))]
        case .replayed(let a, let j, let b):
            return ["v": 1, "type": "replayed", "aid": .string(a), "job": .string(j), "batch_id": .string(b)]
        }
    }

    public static func parse(_ value: [UInt8]) -> ExportsRecord? {
        guard let j = try? JSONParser().parse(value), let type = j["type"]?.stringValue, let account = j["aid"]?.stringValue,
              let job = j["job"]?.stringValue else { return nil }
        let at = j["at"]?.stringValue.flatMap(RFC3339.parseMs) ?? 0
        switch type {
        case "lane":
            guard let p = j["partition"]?.intValue, let g = j["generation"]?.intValue, let m = j["memberships_offset"]?.intValue,
                  let pr = j["profiles_offset"]?.intValue else { return nil }
            let position = LanePosition(generation: g, memberships: m, profiles: pr, existingDone: j["existing_done"]?.boolValue ?? true,
                                        existingCursor: j["existing_cursor"]?.stringValue)
            return .lane(LaneRecord(account: account, job: job, partition: Int32(clamping: p), position: position, status: j["status"]?.stringValue ?? "",
                                    batchID: j["batch_id"]?.stringValue, delivered: j["delivered"]?.intValue ?? 0,
                                    deadLettered: j["dead_lettered"]?.intValue ?? 0, atMs: at))
        case "dead":
            guard let b = j["batch_id"]?.stringValue else { return nil }
            return .dead(DeadBatch(account: account, job: job, partition: Int32(clamping: j["partition"]?.intValue ?? 0), batchID: b,
                                   items: Int(j["items"]?.intValue ?? 0), reason: j["reason"]?.stringValue ?? "", payload: j["payload"]?.stringValue, atMs: at))
        case "replayed":
            guard let b = j["batch_id"]?.stringValue else { return nil }
            return .replayed(account: account, job: job, batchID: b)
        default:
            return nil
        }
    }
}

/// What `cdp.exports` says, folded in log order: each lane's latest position and totals, and
/// each job's dead-lettered batches not yet replayed.
public struct ExportsState: Sendable {
    public struct LaneKey: Hashable, Sendable, Comparable {
        public var account: String
        public var job: String
        public var partition: Int32
        public init(account: String, job: String, partition: Int32) {
            self.account = account
            self.job = job
            self.partition = partition
        }
        public static func < (a: LaneKey, b: LaneKey) -> Bool { (a.account, a.job, a.partition) < (b.account, b.job, b.partition) }
    }

    public private(set) var lanes: [LaneKey: ExportsRecord.LaneRecord] = [:]
    /// `<aid>/<job>` → batch id → batch.
    public private(set) var dead: [String: [String: ExportsRecord.DeadBatch]] = [:]

    public init() {}

    public mutating func apply(_ record: ExportsRecord) {
        switch record {
        case .lane(let l):
            let key = LaneKey(account: l.account, job: l.job, partition: l.partition)
            // A position never moves back within a generation (a late record from an old owner).
            if let seen = lanes[key], seen.position.generation == l.position.generation,
               seen.position.memberships > l.position.memberships || seen.position.profiles > l.position.profiles { return }
            if let seen = lanes[key], seen.position.generation > l.position.generation { return }
            lanes[key] = l
        case .dead(let d): dead["\(d.account)/\(d.job)", default: [:]][d.batchID] = d
        case .replayed(let a, let j, let b): dead["\(a)/\(j)"]?[b] = nil
        }
    }

    public func deadBatches(account: String, job: String) -> [ExportsRecord.DeadBatch] {
        (dead["\(account)/\(job)"] ?? [:]).values.sorted { ($0.atMs, $0.batchID) < ($1.atMs, $1.batchID) }
    }
}
