import Crypto
import QL
import Runtime

/// Lossless JSON for state snapshots (QLValue's public JSON form loses the time/string
/// distinction, so snapshots tag every value).
enum SnapshotCodec {
    static func encode(_ v: QLValue) -> JSONValue {
        switch v {
        case .int(let i): ["i": .int(i)]
        case .number(let d): ["n": .double(d)]
        case .bool(let b): ["b": .bool(b)]
        case .string(let s): ["s": .string(s)]
        case .time(let t): ["t": .int(t)]
        case .strings(let a): ["ss": .array(a.map(JSONValue.string))]
        case .list(let a): ["l": .array(a.map(encode))]
        case .map(let m): ["m": .object(m.mapValues(encode))]
        case .null: ["z": 0]
        }
    }

    static func decode(_ j: JSONValue) -> QLValue? {
        guard case .object(let o) = j, o.count == 1, let (tag, v) = o.first else { return nil }
        switch tag {
        case "i": return v.intValue.map(QLValue.int)
        case "n": return v.doubleValue.map(QLValue.number)
        case "b": return v.boolValue.map(QLValue.bool)
        case "s": return v.stringValue.map(QLValue.string)
        case "t": return v.intValue.map(QLValue.time)
        case "ss": return v.arrayValue.map { .strings($0.compactMap(\.stringValue)) }
        case "l": return v.arrayValue.map { .list($0.compactMap(decode)) }
        case "m": return v.objectValue.map { .map($0.compactMapValues(decode)) }
        case "z": return .null
        default: return nil
        }
    }
}

extension IdentityGraph {
    /// The whole graph as JSON (profiles carry their identities; the owner table is rebuilt).
    public func snapshot() -> JSONValue {
        var ps: [JSONValue] = []
        for p in profiles.values.sorted(by: { $0.id < $1.id }) {
            var identities: [String: JSONValue] = [:]
            for (f, held) in p.identities { identities[f] = .array(held.map { ["v": .string($0.value), "t": .int($0.lastSeenMs)] }) }
            var fields: [String: JSONValue] = [:]
            for (name, st) in p.fields {
                fields[name] = ["v": SnapshotCodec.encode(st.value), "t": .int(st.timeMs), "k": .object(st.keyTimes.mapValues(JSONValue.int)),
                                "s": st.stream.map(JSONValue.string) ?? .null, "c": st.changedAtMs.map(JSONValue.int) ?? .null]
            }
            ps.append(["id": .string(p.id), "created": .int(p.createdMs), "updated": .int(p.updatedMs), "identities": .object(identities),
                       "fields": .object(fields), "events": .int(Int64(p.eventCount)), "streams": .array(p.streams.map(JSONValue.string)),
                       "conflicts": .array(p.conflicts.map { ["f": .string($0.field), "v": .string($0.value)] }),
                       "version": .int(p.version), "merged": .array(p.merged.map(JSONValue.string))])
        }
        return ["account": .string(account), "profiles": .array(ps),
                "merges": .object(mergesByKey.mapValues { .int(Int64($0)) }), "conflicts": .object(conflictsByKey.mapValues { .int(Int64($0)) }),
                "without_identity": .int(Int64(eventsWithoutIdentity)),
                // Fingerprint, time, fingerprint, time, ... (fingerprints as their bit patterns).
                "seen64": .array(seenEventTimes.sorted { $0.key < $1.key }.flatMap { [JSONValue.int(Int64(bitPattern: $0.key)), .int($0.value)] }),
                "newest": .int(newestEventTime)]
    }

    /// The dedupe table of a snapshot: fingerprints (`seen64`), or event ids as older snapshots
    /// wrote them (`seen`).
    static func restoreSeen(_ j: JSONValue) -> [UInt64: Int64] {
        var seen: [UInt64: Int64] = [:]
        if let flat = j["seen64"]?.arrayValue {
            var i = 0
            while i + 1 < flat.count {
                if let fp = flat[i].intValue, let t = flat[i + 1].intValue { seen[UInt64(bitPattern: fp)] = t }
                i += 2
            }
        }
        for (id, t) in j["seen"]?.objectValue ?? [:] { if let t = t.intValue { seen[fingerprint(id)] = t } }
        return seen
    }

    /// Rebuilds a graph from `snapshot()`; nil if the document is not a valid snapshot.
    public static func restore(_ j: JSONValue, schema: IdentitySchema, storage: ProfileStore.Storage = .compact) -> IdentityGraph? {
        guard let account = j["account"]?.stringValue, let list = j["profiles"]?.arrayValue else { return nil }
        var g = IdentityGraph(account: account, schema: schema, storage: storage)
        var profiles: [String: Profile] = [:]
        for pj in list {
            guard let id = pj["id"]?.stringValue, let created = pj["created"]?.intValue, let updated = pj["updated"]?.intValue,
                  let version = pj["version"]?.intValue else { return nil }
            var p = Profile(id: id, createdMs: created, updatedMs: updated)
            for (f, heldJSON) in pj["identities"]?.objectValue ?? [:] {
                p.identities[f] = (heldJSON.arrayValue ?? []).compactMap { h in
                    guard let v = h["v"]?.stringValue, let t = h["t"]?.intValue else { return nil }
                    return Profile.Held(value: v, lastSeenMs: t)
                }
            }
            for (name, fj) in pj["fields"]?.objectValue ?? [:] {
                guard let v = fj["v"].flatMap(SnapshotCodec.decode), let t = fj["t"]?.intValue else { return nil }
                var st = FieldState(value: v, timeMs: t, keyTimes: KeyTimes((fj["k"]?.objectValue ?? [:]).compactMapValues(\.intValue)))
                st.stream = fj["s"]?.stringValue
                st.changedAtMs = fj["c"]?.intValue
                p.fields[name] = st
            }
            p.eventCount = Int(pj["events"]?.intValue ?? 0)
            for s in (pj["streams"]?.arrayValue ?? []).compactMap(\.stringValue) { p.noteStream(s) }
            p.conflicts = (pj["conflicts"]?.arrayValue ?? []).compactMap { c in
                guard let f = c["f"]?.stringValue, let v = c["v"]?.stringValue else { return nil }
                return Identifier(f, v)
            }
            p.version = version
            p.merged = (pj["merged"]?.arrayValue ?? []).compactMap(\.stringValue)
            profiles[id] = p
        }
        g.restoreTables(profiles: profiles,
                        merges: (j["merges"]?.objectValue ?? [:]).compactMapValues { $0.intValue.map(Int.init) },
                        conflicts: (j["conflicts"]?.objectValue ?? [:]).compactMapValues { $0.intValue.map(Int.init) },
                        withoutIdentity: Int(j["without_identity"]?.intValue ?? 0),
                        seen: restoreSeen(j), newest: j["newest"]?.intValue ?? .min)
        return g
    }
}
