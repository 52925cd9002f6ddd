import Foundation
import Log
import Model
import QL
import Runtime
import SegmentCore

/// Local snapshots under `CDP_DATA_DIR`: per partition of `cdp.profiles`, every account's profile
/// copies, memberships, pending flip times and the audience fingerprint they were computed with,
/// at an offset. Restored at assignment (then only the log after the offset is read); audiences
/// edited since are re-evaluated by the usual backfill. Corrupt or mismatched files are ignored.
extension SegmenterApp {
    /// Restores the partition's accounts; returns the offset to read from.
    func restoreSnapshot(_ tp: TopicPartition) -> Int64? {
        guard let (offset, state) = snapshots.load(topic: tp.topic, partition: tp.partition) else { return nil }
        // Written before accounts were kept per partition: an account's profiles from every
        // partition sat in one file, which a changed assignment cannot use.
        guard state["layout"]?.stringValue == Self.layout else {
            snapshots.reject(topic: tp.topic, partition: tp.partition, "written in an older layout (accounts not split by partition)")
            return nil
        }
        var restored: [StateKey: AccountSegments] = [:]
        for (account, a) in state["accounts"]?.objectValue ?? [:] {
            guard let decoded = Self.decodeAccount(a) else {
                snapshots.reject(topic: tp.topic, partition: tp.partition, "account \(account) is unreadable")
                return nil
            }
            restored[StateKey(account: account, partition: tp.partition)] = decoded
        }
        states.withLock { all in for (k, v) in restored { all[k] = v } }
        snapshots.noteRestored(topic: tp.topic, partition: tp.partition, offset: offset, ["accounts": String(restored.count)])
        return offset
    }

    /// Writes every assigned partition's snapshot at its current position.
    func writeSnapshots() {
        guard snapshots.enabled else { return }
        for (tp, offset) in progress.positions where offset > 0 {
            let copies = states.withLock { all in
                Dictionary(uniqueKeysWithValues: all.filter { $0.key.partition == tp.partition }.map { ($0.key.account, Self.encodeAccount($0.value)) })
            }
            snapshots.save(topic: tp.topic, partition: tp.partition, offset: offset, state: ["layout": .string(Self.layout), "accounts": .object(copies)])
        }
    }

    static func encodeAccount(_ a: AccountSegments) -> JSONValue {
        var profiles: [String: JSONValue] = [:]
        for (id, p) in a.profiles { profiles[id] = ["v": .int(p.version), "f": .object(p.fields.mapValues(Self.lossless))] }
        return ["fingerprint": .string(a.evaluatedFingerprint), "profiles": .object(profiles),
                "members": .object(a.memberships.current.mapValues { .array($0.sorted().map(JSONValue.string)) }),
                "versions": .object(a.memberships.versions.mapValues(JSONValue.int)),
                "flips": .object(Dictionary(uniqueKeysWithValues: a.flips.pendingTimes.map { ($0.key, JSONValue.int($0.value)) })),
                "unhealthy": .array(a.unhealthy.sorted().map(JSONValue.string))]
    }

    /// Marks snapshots holding one partition's share of each account.
    static let layout = "partition-accounts"

    static func decodeAccount(_ j: JSONValue) -> AccountSegments? {
        guard let fingerprint = j["fingerprint"]?.stringValue, case .object(let profiles)? = j["profiles"] else { return nil }
        var a = AccountSegments()
        for (id, p) in profiles {
            guard let version = p["v"]?.intValue, case .object(let f)? = p["f"] else { return nil }
            var fields: [String: QLValue] = [:]
            for (name, raw) in f {
                guard let v = QLValue(json: raw) else { return nil }
                fields[name] = v
            }
            a.profiles[id] = (version, fields)
        }
        let versions = j["versions"]?.objectValue ?? [:]
        for (id, segs) in j["members"]?.objectValue ?? [:] {
            let members = Set((segs.arrayValue ?? []).compactMap(\.stringValue))
            _ = a.memberships.update(profile: id, version: versions[id]?.intValue ?? 0, audiences: members, atMs: 0, force: true)
        }
        for (id, at) in j["flips"]?.objectValue ?? [:] { a.flips.schedule(id, at: at.intValue) }
        a.unhealthy = Set((j["unhealthy"]?.arrayValue ?? []).compactMap(\.stringValue))
        // The audiences are compiled again on first use; the fingerprint says whether they changed
        // since (then the account is re-evaluated, as after any edit).
        a.fingerprint = fingerprint
        a.evaluatedFingerprint = fingerprint
        return a
    }

    /// Record values as JSON that reads back to the same value (times tagged).
    static func lossless(_ v: QLValue) -> JSONValue {
        switch v {
        case .time(let t): ["$time": .string(Timestamp.rfc3339Millis(epochMs: t))]
        case .list(let items): .array(items.map(lossless))
        case .map(let m): .object(m.mapValues(lossless))
        default: v.json
        }
    }
}
