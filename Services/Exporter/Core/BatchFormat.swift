import Crypto
import Model
import Runtime

/// What the exporter knows about a profile when it builds a batch: identities and fields as
/// last published on `cdp.profiles`.
public struct ProfileSnapshot: Sendable, Equatable {
    public var identities: [String: JSONValue]
    public var fields: [String: JSONValue]
    /// The profile version these values are from.
    public var version: Int64
    public init(identities: [String: JSONValue] = [:], fields: [String: JSONValue] = [:], version: Int64 = 0) {
        self.identities = identities
        self.fields = fields
        self.version = version
    }
}

/// A batch ready to send: its items and the bytes of each format.
public struct Batch: Sendable, Equatable {
    public var jobID: String
    public var items: [DeliveryItem]

    public init(jobID: String, items: [DeliveryItem]) {
        self.jobID = jobID
        self.items = items
    }

    /// Stable for the same items, so a redelivered batch has the same id (and file name).
    public var id: String {
        "b_" + Digest.hex(Array(Digest.sha256(Array(items.map(\.id).joined(separator: ",").utf8)).prefix(10)))
    }

    /// The user object of an event: identities (one value as a string, several as an array),
    /// then the job's selected fields that the profile has.
    public static func user(_ profile: ProfileSnapshot?, fields: [String]) -> [String: JSONValue] {
        var user: [String: JSONValue] = [:]
        guard let profile else { return user }
        for (name, values) in profile.identities {
            if case .array(let a) = values, a.count == 1 { user[name] = a[0] } else { user[name] = values }
        }
        for f in fields { if let v = profile.fields[f] { user[f] = v } }
        return user
    }

    func event(_ item: DeliveryItem, user: [String: JSONValue]) -> JSONValue {
        ["id": .string(item.id), "profile_id": .string(item.profile), "segment": .string(item.segment), "action": .string(item.action.rawValue),
         "ts": .string(Timestamp.rfc3339Millis(epochMs: item.tsMs)), "user": .object(user)]
    }

    /// The webhook body: `{"job","batch_id","events":[...]}`.
    public func webhookBody(profiles: (String) -> ProfileSnapshot?, fields: [String]) -> [UInt8] {
        let events = items.map { event($0, user: Self.user(profiles($0.profile), fields: fields)) }
        let body: JSONValue = ["job": .string(jobID), "batch_id": .string(id), "events": .array(events)]
        return body.serializedBytes()
    }

    /// One JSON event per line.
    public func ndjson(profiles: (String) -> ProfileSnapshot?, fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for item in items {
            out += event(item, user: Self.user(profiles(item.profile), fields: fields)).serializedBytes()
            out.append(10)
        }
        return out
    }

    /// CSV with a header row: `id,profile_id,segment,action,ts,identities,<fields...>`. Sets,
    /// maps and the identities are JSON cells (one row per event, not one per value).
    public func csv(profiles: (String) -> ProfileSnapshot?, fields: [String]) -> [UInt8] {
        var out = ""
        out += (["id", "profile_id", "segment", "action", "ts", "identities"] + fields).map(Self.cell).joined(separator: ",") + "\r\n"
        for item in items {
            let p = profiles(item.profile)
            var row = [item.id, item.profile, item.segment, item.action.rawValue, Timestamp.rfc3339Millis(epochMs: item.tsMs),
                       JSONValue.object(p?.identities ?? [:]).serialized()]
            for f in fields {
                switch p?.fields[f] {
                case nil, .null?: row.append("")
                case .string(let s)?: row.append(s)
                case let v?: row.append(v.serialized())
                }
            }
            out += row.map(Self.cell).joined(separator: ",") + "\r\n"
        }
        return Array(out.utf8)
    }

    /// RFC 4180 quoting where needed.
    static func cell(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// The webhook signature: `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
public enum WebhookSignature {
    public static func sign(secret: String, timestamp: String, body: [UInt8]) -> String {
        "sha256=" + Digest.hex(Digest.hmacSHA256(key: Array(secret.utf8), message: Array((timestamp + ".").utf8) + body))
    }

    /// Checks a signature (constant time), as a receiver would.
    public static func verify(secret: String, timestamp: String, body: [UInt8], signature: String) -> Bool {
        Digest.constantTimeEqual(Array(sign(secret: secret, timestamp: timestamp, body: body).utf8), Array(signature.utf8))
    }
}
