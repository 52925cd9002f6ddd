import QL
import Runtime

/// A profile as read from `cdp.profiles`, with its fields as typed record values.
public struct ProfileRecord: Sendable, Equatable {
    public var account: String
    public var id: String
    public var version: Int64
    public var deleted: Bool
    public var fields: [String: QLValue]
    /// Flagged by the resolver: in no audience.
    public var unhealthy = false

    /// Parses a `cdp.profiles` value; `types` restores times (JSON has none). Identity values are
    /// readable as fields too (`email`, `_uid`), as audiences expect.
    public static func parse(_ value: [UInt8]) -> ProfileRecord? {
        guard let j = try? JSONParser().parse(value), let account = j["aid"]?.stringValue, let id = j["id"]?.stringValue,
              let version = j["version"]?.intValue else { return nil }
        if j["deleted"] == .bool(true) { return ProfileRecord(account: account, id: id, version: version, deleted: true, fields: [:]) }
        var fields: [String: QLValue] = [:]
        let types = j["types"]?.objectValue ?? [:]
        for (name, raw) in j["identities"]?.objectValue ?? [:] {
            let values = (raw.arrayValue ?? []).compactMap(\.stringValue)
            fields[name] = values.count == 1 ? .string(values[0]) : .strings(values)
        }
        for (name, raw) in j["fields"]?.objectValue ?? [:] {
            guard var v = QLValue(json: raw) else { continue }
            if types[name]?.stringValue == "time", case .string(let s) = v, let t = DateMath.parseDate(s) { v = .time(t) }
            if types[name]?.stringValue == "map", case .map(let m) = v {
                v = .map(m.mapValues { item in
                    if case .string(let s) = item, s.count == 24, s.hasSuffix("Z"), let t = DateMath.parseDate(s) { return .time(t) }
                    return item
                })
            }
            fields[name] = v
        }
        var record = ProfileRecord(account: account, id: id, version: version, deleted: false, fields: fields)
        record.unhealthy = j["meta"]?["unhealthy"]?.boolValue ?? false
        return record
    }
}
