import Crypto
import Model
import Runtime

/// A `cdp.memberships` record: a profile's current audiences (ids) and the transitions it carries.
public struct MembershipRecord: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public var action: DeliveryItem.Action
        public var segment: String
        public var tsMs: Int64
        public init(action: DeliveryItem.Action, segment: String, tsMs: Int64) {
            self.action = action
            self.segment = segment
            self.tsMs = tsMs
        }
    }

    public var account: String
    public var profile: String
    public var version: Int64
    public var segments: Set<String>
    public var transitions: [Change]

    public init(account: String, profile: String, version: Int64, segments: Set<String>, transitions: [Change]) {
        self.account = account
        self.profile = profile
        self.version = version
        self.segments = segments
        self.transitions = transitions
    }

    public static func parse(_ value: [UInt8]) -> MembershipRecord? {
        guard let j = try? JSONParser().parse(value), let account = j["aid"]?.stringValue, let profile = j["profile"]?.stringValue else { return nil }
        let segments = Set((j["segments"]?.arrayValue ?? []).compactMap(\.stringValue))
        var changes: [Change] = []
        for t in j["transitions"]?.arrayValue ?? [] {
            guard let seg = t["segment"]?.stringValue, let a = t["action"]?.stringValue, let action = DeliveryItem.Action(rawValue: a),
                  action != .update else { continue }
            let ts = t["ts"]?.stringValue.flatMap(RFC3339.parseMs) ?? 0
            changes.append(Change(action: action, segment: seg, tsMs: ts))
        }
        return MembershipRecord(account: account, profile: profile, version: j["version"]?.intValue ?? 0, segments: segments, transitions: changes)
    }
}

/// One thing to tell a destination about one profile. `id` is the idempotency key: the same
/// transition always gets the same id, so a redelivery can be recognised by the receiver.
public struct DeliveryItem: Sendable, Equatable {
    public enum Action: String, Sendable { case enter, exit, update }
    /// Where an item came from: the source record's offset (for resuming after a restart) or the
    /// existing-users sync.
    public enum Source: Sendable, Equatable {
        case membership(offset: Int64)
        case profile(offset: Int64)
        case existing
    }

    public var id: String
    public var profile: String
    /// Audience slug.
    public var segment: String
    public var action: Action
    public var tsMs: Int64
    public var source: Source
    /// The profile version the transition was computed from (0: unknown); the user data sent
    /// with an enter or update is from at least this version when the exporter has it in time.
    public var profileVersion: Int64

    public init(id: String, profile: String, segment: String, action: Action, tsMs: Int64, source: Source, profileVersion: Int64 = 0) {
        self.id = id
        self.profile = profile
        self.segment = segment
        self.action = action
        self.tsMs = tsMs
        self.source = source
        self.profileVersion = profileVersion
    }

    static func key(_ parts: [String]) -> String {
        "d_" + Digest.hex(Array(Digest.sha256(Array(parts.joined(separator: "|").utf8)).prefix(12)))
    }
}

/// Turns inputs into delivery items for one job. Pure: the same record and job always give the
/// same items (and ids). Audience ids are mapped to slugs by `slugs`.
public struct ItemDerivation: Sendable {
    public let job: ExportJob
    /// Audience id → slug for this account.
    public let slugs: [String: String]
    public let partition: Int32

    public init(job: ExportJob, slugs: [String: String], partition: Int32) {
        self.job = job
        self.slugs = slugs
        self.partition = partition
    }

    func slug(_ id: String) -> String { slugs[id] ?? id }

    /// Items for a membership record: the job's audiences' enters and exits; with an exclusion
    /// audience, entering it exits the profile from the job's audiences it is in, leaving it
    /// enters them again, and while excluded nothing else is delivered.
    public func items(for record: MembershipRecord, offset: Int64) -> [DeliveryItem] {
        let jobSegments = Set(job.segments)
        let now = Set(record.segments.map(slug))
        var before = now
        for t in record.transitions {
            let s = slug(t.segment)
            if t.action == .enter { before.remove(s) } else if t.action == .exit { before.insert(s) }
        }
        let ts = record.transitions.map(\.tsMs).max() ?? 0
        let excludedBefore = job.excludeSegment.map { before.contains($0) } ?? false
        let excludedNow = job.excludeSegment.map { now.contains($0) } ?? false
        // What the destination should believe before and after, for the job's audiences.
        let visibleBefore = excludedBefore ? [] : before.intersection(jobSegments)
        let visibleNow = excludedNow ? [] : now.intersection(jobSegments)
        var out: [DeliveryItem] = []
        for s in visibleBefore.subtracting(visibleNow).sorted() { out.append(item(record, s, .exit, ts, offset)) }
        for s in visibleNow.subtracting(visibleBefore).sorted() { out.append(item(record, s, .enter, ts, offset)) }
        return out
    }

    private func item(_ r: MembershipRecord, _ segment: String, _ action: DeliveryItem.Action, _ ts: Int64, _ offset: Int64) -> DeliveryItem {
        DeliveryItem(id: DeliveryItem.key([job.id, String(job.generation), "m", String(partition), String(offset), segment, action.rawValue]),
                     profile: r.profile, segment: segment, action: action, tsMs: ts, source: .membership(offset: offset), profileVersion: r.version)
    }

    /// An `update` when a trigger field of a current member changed between two versions of
    /// its profile (`old` nil: first version seen, nothing to compare).
    public func update(profile: String, segments: Set<String>, old: [String: JSONValue]?, new: [String: JSONValue],
                       offset: Int64, tsMs: Int64) -> DeliveryItem? {
        guard !job.triggerFields.isEmpty, let old else { return nil }
        let visible = Set(segments.map(slug))
        if let exclude = job.excludeSegment, visible.contains(exclude) { return nil }
        guard let segment = visible.intersection(job.segments).sorted().first else { return nil }
        guard job.triggerFields.contains(where: { old[$0] != new[$0] }) else { return nil }
        return DeliveryItem(id: DeliveryItem.key([job.id, String(job.generation), "p", String(partition), String(offset), "update"]),
                            profile: profile, segment: segment, action: .update, tsMs: tsMs, source: .profile(offset: offset))
    }

    /// The existing-users sync: an enter for every current member (profiles in order), not
    /// counting excluded ones. Ids depend on the generation so a restart sends them again.
    public func existing(_ members: [(profile: String, segments: Set<String>)], tsMs: Int64) -> [DeliveryItem] {
        var out: [DeliveryItem] = []
        for m in members.sorted(by: { $0.profile < $1.profile }) {
            let visible = Set(m.segments.map(slug))
            if let exclude = job.excludeSegment, visible.contains(exclude) { continue }
            for s in visible.intersection(job.segments).sorted() {
                out.append(DeliveryItem(id: DeliveryItem.key([job.id, String(job.generation), "x", m.profile, s]),
                                        profile: m.profile, segment: s, action: .enter, tsMs: tsMs, source: .existing))
            }
        }
        return out
    }
}
