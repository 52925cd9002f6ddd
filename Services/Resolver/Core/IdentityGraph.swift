import Crypto
import QL

/// An identifier: an identity field and one of its values.
public struct Identifier: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var field: String
    public var value: String
    public init(_ field: String, _ value: String) {
        self.field = field
        self.value = value
    }
    public var description: String { "\(field)=\(value)" }
    public static func < (a: Identifier, b: Identifier) -> Bool { (a.field, a.value) < (b.field, b.value) }
}

/// One event after mapping: its identifiers, field values and time.
public struct MappedEvent: Sendable, Equatable {
    /// A field value; an event has at most one per name (their order carries no meaning).
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: QLValue
        public init(_ name: String, _ value: QLValue) {
            self.name = name
            self.value = value
        }
    }

    public var id: String
    public var stream: String
    public var timeMs: Int64
    public var identifiers: [Identifier]
    /// The values as a short array (the mapper fills it column by column; no table per event).
    public var fields: [Field]

    public init(id: String, stream: String, timeMs: Int64, identifiers: [Identifier], fields: [Field]) {
        self.id = id
        self.stream = stream
        self.timeMs = timeMs
        self.identifiers = identifiers
        self.fields = fields
    }

    public init(id: String, stream: String, timeMs: Int64, identifiers: [Identifier], values: [String: QLValue]) {
        self.init(id: id, stream: stream, timeMs: timeMs, identifiers: identifiers,
                  fields: values.sorted { $0.key < $1.key }.map { Field($0.key, $0.value) })
    }

    /// The values by name.
    public var values: [String: QLValue] {
        var out = [String: QLValue](minimumCapacity: fields.count)
        for f in fields { out[f.name] = f.value }
        return out
    }

    /// Same id, stream, time, identifiers (in order) and values (in any order).
    public static func == (a: MappedEvent, b: MappedEvent) -> Bool {
        a.id == b.id && a.stream == b.stream && a.timeMs == b.timeMs && a.identifiers == b.identifiers && a.values == b.values
    }
}

/// A resolved profile.
public struct Profile: Sendable, Equatable {
    public struct Held: Sendable, Equatable {
        public var value: String
        public var lastSeenMs: Int64
    }

    public let id: String
    public var createdMs: Int64
    public var updatedMs: Int64
    /// Identity field → values held, oldest first by last sight.
    public var identities = IdentityTable()
    public var fields = FieldTable()
    public var eventCount = 0
    /// Streams its events came from, sorted (a short array: most profiles hear from one or two).
    public private(set) var streams: [String] = []
    public var conflicts: [Identifier] = []
    public var version: Int64 = 0
    /// Profiles absorbed into this one (by merges), in order.
    public var merged: [String] = []

    /// Marks an identifier the profile holds as seen at `time`, keeping the values ordered by last
    /// sighting (oldest first, for eviction). Changed in place.
    mutating func touch(_ identifier: Identifier, at time: Int64) {
        Self.touch(&identities[identifier.field], identifier.value, time) // one lookup, in place
    }

    static func touch(_ held: inout [Held]?, _ value: String, _ time: Int64) {
        guard let i = held?.firstIndex(where: { $0.value == value }) else { return }
        let seen = max(held![i].lastSeenMs, time)
        if i == held!.count - 1 {
            held![i].lastSeenMs = seen // already the most recent: stays last
            return
        }
        let entry = Held(value: value, lastSeenMs: seen)
        held!.remove(at: i)
        let at = held!.firstIndex { $0.lastSeenMs > entry.lastSeenMs } ?? held!.endIndex
        held!.insert(entry, at: at)
    }

    /// Takes `other`'s tables and lists (left empty there): the identity and field tables as
    /// they are, to be refilled; streams, conflicts and merged ids emptied, keeping their
    /// capacity. For decoding into storage that is no longer needed.
    mutating func takeStorage(from other: inout Profile) {
        swap(&identities, &other.identities)
        swap(&fields, &other.fields)
        swap(&streams, &other.streams)
        streams.removeAll(keepingCapacity: true)
        swap(&conflicts, &other.conflicts)
        conflicts.removeAll(keepingCapacity: true)
        swap(&merged, &other.merged)
        merged.removeAll(keepingCapacity: true)
    }

    /// Adds `stream` to `streams`, keeping them sorted and distinct.
    public mutating func noteStream(_ stream: String) {
        var i = 0
        while i < streams.count, streams[i] < stream { i += 1 }
        if i == streams.count || streams[i] != stream { streams.insert(stream, at: i) }
    }

    public var identifierCount: Int { identities.values.reduce(0) { $0 + $1.count } }
    public func holds(_ id: Identifier) -> Bool { identities[id.field]?.contains { $0.value == id.value } ?? false }
}

/// What one event did.
public struct Resolution: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case applied(profile: String)
        case duplicate
        case noIdentifier
    }
    public var outcome: Outcome
    /// Profiles absorbed by merges (the profile whose content changed is `survivor`; see
    /// `IdentityGraph.changedProfile`).
    public var absorbed: [String] = []
    /// The version each absorbed profile had last (its deleted record must be newer).
    public var absorbedVersions: [String: Int64] = [:]
    /// The profile that absorbed them (the anchor at the end of the event).
    public var survivor: String?
    public var conflicts: [Identifier] = []
    public var released: [Identifier] = []
}

/// The identity graph and profiles of one account, changed only by `apply` (deterministic: the
/// same events in the same order give the same state).
public struct IdentityGraph: Sendable {
    public let account: String
    public var schema: IdentitySchema {
        didSet { forgetFieldSpecs() }
    }
    /// The profiles, kept encoded (see `ProfileStore`).
    public private(set) var profiles: ProfileStore
    public private(set) var owner: [Identifier: String] = [:]
    /// Per identity key: merges and conflicts it caused.
    public private(set) var mergesByKey: [String: Int] = [:]
    public private(set) var conflictsByKey: [String: Int] = [:]
    public private(set) var eventsWithoutIdentity = 0
    /// Event id fingerprints seen within the dedupe window, with their event times. Fingerprints,
    /// not ids: 16 bytes an event instead of the id's storage. A collision would drop one event as
    /// a duplicate; among 10 million events in one window the odds of any are about 3 in 10^6.
    private var seenEvents = SeenEvents()
    private var newestEventMs: Int64 = .min
    /// Prune the dedupe table when it grows past this (doubling, so pruning stays amortised O(1)
    /// per event even when everything is inside the window).
    private var pruneAtCount = 100_000
    /// The schema's specs of the last event's fields, by position (a mapping yields its columns
    /// in the same order every time): a name compared instead of a hash lookup per field.
    private var fieldSpecs: [FieldSpec] = []

    /// Drops the remembered field specs (the schema changed).
    mutating func forgetFieldSpecs() { fieldSpecs = [] }

    /// The identifiers of the event being applied (empty between events).
    private var identifierScratch: [(key: IdentityKey, id: Identifier)] = []

    public init(account: String, schema: IdentitySchema, storage: ProfileStore.Storage = .compact) {
        self.account = account
        self.schema = schema
        profiles = ProfileStore(storage: storage)
    }

    /// Event id fingerprints seen within the dedupe window, with their event times (snapshots).
    public var seenEventTimes: [UInt64: Int64] { seenEvents.entries }

    /// A stable 64-bit fingerprint of an event id (FNV-1a, then the SplitMix64 finaliser).
    public static func fingerprint(_ id: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
    public var newestEventTime: Int64 { newestEventMs }

    /// Replaces the tables with restored ones (snapshots); the owner table follows the profiles.
    mutating func restoreTables(profiles: [String: Profile], merges: [String: Int], conflicts: [String: Int], withoutIdentity: Int,
                                seen: [UInt64: Int64], newest: Int64) {
        self.profiles = ProfileStore(profiles, storage: self.profiles.storage)
        owner = [:]
        for p in profiles.values {
            for (field, held) in p.identities { for h in held { owner[Identifier(field, h.value)] = p.id } }
        }
        mergesByKey = merges
        conflictsByKey = conflicts
        eventsWithoutIdentity = withoutIdentity
        seenEvents = SeenEvents(seen)
        newestEventMs = newest
    }

    /// The profile an applied event changed (its `survivor`), as it is now.
    public func changedProfile(_ resolution: Resolution) -> Profile? {
        resolution.survivor.flatMap { profiles[$0] }
    }

    /// The profile that holds `identifier`, if any.
    public func profile(for identifier: Identifier) -> Profile? {
        owner[identifier].flatMap { profiles[$0] }
    }

    /// Deletes the profile holding `identifier` and releases every identifier it held (GDPR
    /// erasure). Returns the deleted profile's id and last version.
    public mutating func delete(holding identifier: Identifier) -> (id: String, version: Int64)? {
        guard let id = owner[identifier], let profile = profiles.removeValue(forKey: id) else { return nil }
        profiles.flush()
        for (field, held) in profile.identities {
            for h in held { owner[Identifier(field, h.value)] = nil }
        }
        return (id, profile.version)
    }

    /// A deterministic id for a profile first anchored by `identifier`: 52 bits of its hash, so
    /// the id fits in a String's inline storage (15 bytes; no allocation per profile).
    func newProfileID(_ identifier: Identifier) -> String {
        var id = "p_" + String(Digest.hex(Digest.sha256(Array("\(account)/\(identifier.field)=\(identifier.value)".utf8))).prefix(13))
        while profiles[id] != nil { id += "x" }
        return id
    }

    public mutating func apply(_ event: MappedEvent) -> Resolution {
        // Rule 8: duplicate event ids within the window are applied once.
        let fingerprint = Self.fingerprint(event.id)
        if let seen = seenEvents[fingerprint], abs(seen - event.timeMs) <= schema.dedupeWindowMs { return Resolution(outcome: .duplicate) }
        seenEvents[fingerprint] = event.timeMs
        if event.timeMs > newestEventMs {
            newestEventMs = event.timeMs
            if seenEvents.count > pruneAtCount {
                let cutoff = newestEventMs - schema.dedupeWindowMs
                seenEvents = seenEvents.keeping(from: cutoff)
                pruneAtCount = max(100_000, seenEvents.count * 2)
            }
        }
        // Rule 1: identifiers are the identity-key values minus blocked ones.
        var ids = identifierScratch // a buffer kept between events: no array per event
        identifierScratch = []
        defer {
            ids.removeAll(keepingCapacity: true)
            identifierScratch = ids
        }
        for identifier in event.identifiers where !ids.contains(where: { $0.id == identifier }) {
            guard let key = schema.key(identifier.field), !key.isBlocked(identifier.value) else { continue }
            ids.append((key, identifier))
        }
        guard !ids.isEmpty else {
            eventsWithoutIdentity += 1
            return Resolution(outcome: .noIdentifier)
        }
        // Rule 2: order by rank, then key, then value; the strongest anchors the event.
        ids.sort { ($0.key.rank, $0.id.field, $0.id.value) < ($1.key.rank, $1.id.field, $1.id.value) }
        var result = Resolution(outcome: .applied(profile: ""))
        if schema.keys.contains(where: { $0.ttlDays != nil }) { result.released = expireTTL(ids.map(\.id), at: event.timeMs) }
        var anchor: String
        if let existing = owner[ids[0].id] {
            anchor = existing
            touch(ids[0].id, in: anchor, at: event.timeMs)
        } else {
            anchor = newProfileID(ids[0].id)
            profiles[anchor] = Profile(id: anchor, createdMs: event.timeMs, updatedMs: event.timeMs)
            result.released += attach(ids[0].id, key: ids[0].key, to: anchor, at: event.timeMs)
        }
        // Rule 3: the other identifiers attach, or merge their profiles in, unless that conflicts.
        for (key, identifier) in ids.dropFirst() {
            if let other = owner[identifier] {
                if other == anchor {
                    touch(identifier, in: anchor, at: event.timeMs)
                    continue
                }
                profiles.prepare(other) // decoded once for the checks and the merge below
                if let problem = mergeProblem(profiles[anchor]!, profiles[other]!) {
                    _ = problem
                    conflict(identifier, key: key, on: anchor, &result)
                    continue
                }
                let absorbedID = (profiles[anchor]!.createdMs, anchor) <= (profiles[other]!.createdMs, other) ? other : anchor
                // A profile made for this very event and merged straight away was never published.
                let absorbedVersion = profiles[absorbedID]!.version
                let survivor = merge(anchor, other)
                mergesByKey[key.field, default: 0] += 1
                if absorbedVersion > 0 {
                    result.absorbed.append(absorbedID)
                    result.absorbedVersions[absorbedID] = absorbedVersion
                }
                anchor = survivor
                touch(identifier, in: anchor, at: event.timeMs)
            } else {
                if let problem = attachProblem(identifier, key: key, profiles[anchor]!) {
                    _ = problem
                    conflict(identifier, key: key, on: anchor, &result)
                    continue
                }
                result.released += attach(identifier, key: key, to: anchor, at: event.timeMs)
            }
        }
        // Rule 4: field values, ordered by event time through the merge operators. The profile
        // and its fields are changed in place (a copy would copy its tables on every event).
        var specs = fieldSpecs // taken out while the profile is changed, put back after
        fieldSpecs = []
        profiles.update(anchor) { Self.absorb(event, into: &$0, schema: schema, specs: &specs) }
        fieldSpecs = specs
        result.outcome = .applied(profile: anchor)
        result.survivor = anchor
        profiles.flush(keep: anchor)
        return result
    }

    /// Applies an event's values and counters to its profile.
    /// `specs` holds the schema's specs of earlier events' fields by position (see `fieldSpecs`).
    static func absorb(_ event: MappedEvent, into profile: inout Profile, schema: IdentitySchema, specs: inout [FieldSpec]) {
        if profile.fields.isEmpty { profile.fields.reserveCapacity(event.fields.count) } // a new profile: one allocation
        for (position, field) in event.fields.enumerated() {
            let name = field.name, value = field.value
            let spec: FieldSpec
            if position < specs.count, specs[position].name == name {
                spec = specs[position]
            } else if let declared = schema.fields[name] {
                spec = declared
                if position < specs.count { specs[position] = declared } else if position == specs.count { specs.append(declared) }
            } else {
                spec = FieldSpec(name: name, kind: FieldMerge.kind(of: value)) // not declared: the value's kind, per event
            }
            if let i = profile.fields.index(forKey: name) {
                FieldMerge.update(spec, &profile.fields[at: i], value, at: event.timeMs, stream: event.stream)
            } else if let state = FieldMerge.initial(spec, value, at: event.timeMs, stream: event.stream) {
                profile.fields[name] = state
            }
        }
        profile.eventCount += 1
        profile.noteStream(event.stream)
        profile.createdMs = min(profile.createdMs, event.timeMs)
        profile.updatedMs = max(profile.updatedMs, event.timeMs)
        profile.version += 1
    }

    private mutating func conflict(_ identifier: Identifier, key: IdentityKey, on profile: String, _ result: inout Resolution) {
        // Rule 7: count conflicts per profile and per key; the identifier stays where it was.
        conflictsByKey[key.field, default: 0] += 1
        profiles.update(profile) { p in if !p.conflicts.contains(identifier) { p.conflicts.append(identifier) } }
        result.conflicts.append(identifier)
    }

    private mutating func touch(_ identifier: Identifier, in profile: String, at time: Int64) {
        profiles.update(profile) { $0.touch(identifier, at: time) }
    }

    /// Why `identifier` cannot join `profile`, or nil.
    func attachProblem(_ identifier: Identifier, key: IdentityKey, _ profile: Profile) -> String? {
        let held = profile.identities[identifier.field]?.count ?? 0
        switch (key.kind, key.onFull) {
        case (.string, _): if held >= 1 { return "already holds a value of \(key.field)" }
        case (.set, .reject): if held >= key.capacity { return "\(key.field) is at its capacity of \(key.capacity)" }
        case (.set, .evictOldest): return nil
        }
        if key.onFull != .evictOldest, countedIdentifiers(profile) + 1 > schema.maxIdentifiers { return "more than \(schema.maxIdentifiers) identifiers" }
        return nil
    }

    func countedIdentifiers(_ profile: Profile) -> Int {
        profile.identities.reduce(0) { total, entry in
            schema.key(entry.key)?.onFull == .evictOldest && schema.key(entry.key)?.kind == .set ? total : total + entry.value.count
        }
    }

    /// Why `a` and `b` cannot merge, or nil.
    func mergeProblem(_ a: Profile, _ b: Profile) -> String? {
        for key in schema.keys {
            let x = Set((a.identities[key.field] ?? []).map(\.value)), y = Set((b.identities[key.field] ?? []).map(\.value))
            let union = x.union(y)
            switch (key.kind, key.onFull) {
            case (.string, _): if union.count > 1 { return "two values of \(key.field)" }
            case (.set, .reject): if union.count > key.capacity { return "\(key.field) over its capacity" }
            case (.set, .evictOldest): continue
            }
        }
        if countedIdentifiers(a) + countedIdentifiers(b) > schema.maxIdentifiers { return "more than \(schema.maxIdentifiers) identifiers" }
        return nil
    }

    /// Attaches an unowned identifier; returns identifiers released by eviction.
    private mutating func attach(_ identifier: Identifier, key: IdentityKey, to profile: String, at time: Int64) -> [Identifier] {
        owner[identifier] = profile
        let capacity = key.kind == .set && key.onFull == .evictOldest ? key.capacity : nil
        // The profile's list is changed where it is (a copy taken out and written back would
        // copy the list on every attach).
        let evicted = profiles.update(profile) { Self.insert(identifier.value, at: time, into: &$0.identities[identifier.field], keeping: capacity) } ?? []
        var released: [Identifier] = []
        for value in evicted {
            let id = Identifier(identifier.field, value)
            owner[id] = nil
            released.append(id)
        }
        return released
    }

    /// Adds a held value, keeping the list ordered by (last sighting, value); past `capacity`
    /// the oldest go. Returns the values that went.
    static func insert(_ value: String, at time: Int64, into held: inout [Profile.Held]?, keeping capacity: Int?) -> [String] {
        var list = held ?? []
        held = nil // `list` is now the only reference: changed in place
        list.append(Profile.Held(value: value, lastSeenMs: time))
        list.sort { ($0.lastSeenMs, $0.value) < ($1.lastSeenMs, $1.value) }
        var gone: [String] = []
        if let capacity {
            while list.count > capacity { gone.append(list.removeFirst().value) }
        }
        held = list
        return gone
    }

    /// Rule 5: the older profile (first event time, then id) survives; returns its id.
    private mutating func merge(_ x: String, _ y: String) -> String {
        let a = profiles[x]!, b = profiles[y]!
        let (survivor, absorbed) = (a.createdMs, a.id) <= (b.createdMs, b.id) ? (a, b) : (b, a)
        var merged = survivor
        for (field, values) in absorbed.identities {
            for held in values { owner[Identifier(field, held.value)] = survivor.id }
            var all = (merged.identities[field] ?? []) + values
            all.sort { ($0.lastSeenMs, $0.value) < ($1.lastSeenMs, $1.value) }
            if let key = schema.key(field), key.kind == .set, key.onFull == .evictOldest {
                while all.count > key.capacity {
                    let gone = all.removeFirst()
                    owner[Identifier(field, gone.value)] = nil
                }
            }
            merged.identities[field] = all
        }
        for (name, state) in absorbed.fields {
            let spec = schema.fields[name] ?? FieldSpec(name: name, kind: FieldMerge.kind(of: state.value))
            merged.fields[name] = merged.fields[name].map { FieldMerge.combine(spec, $0, state) } ?? state
        }
        merged.eventCount += absorbed.eventCount
        for s in absorbed.streams { merged.noteStream(s) }
        merged.conflicts += absorbed.conflicts.filter { !merged.conflicts.contains($0) }
        merged.createdMs = min(merged.createdMs, absorbed.createdMs)
        merged.updatedMs = max(merged.updatedMs, absorbed.updatedMs)
        merged.merged += (absorbed.version > 0 ? [absorbed.id] : []) + absorbed.merged
        merged.version = max(merged.version, absorbed.version) + 1
        profiles[absorbed.id] = nil
        profiles[survivor.id] = merged
        return survivor.id
    }

    /// Rule 6: releases identifiers of keys with a ttl that were not seen for that long (event
    /// time). Checked where it matters — the event's own identifiers and its anchor profile — so
    /// applying an event stays proportional to the event, not to the graph.
    private mutating func expireTTL(_ identifiers: [Identifier], at now: Int64) -> [Identifier] {
        var released: [Identifier] = []
        for identifier in identifiers {
            guard let key = schema.key(identifier.field), let days = key.ttlDays, let profile = owner[identifier] else { continue }
            let cutoff = now - Int64(days) * 86_400_000
            released += expire(profile: profile, key: key, cutoff: cutoff)
        }
        return released.sorted()
    }

    private mutating func expire(profile: String, key: IdentityKey, cutoff: Int64) -> [Identifier] {
        guard let held = profiles[profile]?.identities[key.field] else { return [] }
        let gone = held.filter { $0.lastSeenMs < cutoff }
        for h in gone { owner[Identifier(key.field, h.value)] = nil }
        profiles[profile]!.identities[key.field] = held.filter { $0.lastSeenMs >= cutoff }
        return gone.map { Identifier(key.field, $0.value) }
    }
}
