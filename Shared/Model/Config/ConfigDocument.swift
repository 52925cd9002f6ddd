import Runtime

/// Where a configuration document lives: `cdp.config` key `<aid>/<kind>/<id>`.
public struct ConfigKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var account: String
    public var kind: String
    public var id: String

    public init(account: String, kind: String, id: String) {
        self.account = account
        self.kind = kind
        self.id = id
    }

    /// Parses `<aid>/<kind>/<id>`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, Identifier.accountProblem(parts[0]) == nil, ConfigKind.isValidName(parts[1]),
              Identifier.documentProblem(parts[2]) == nil else { return nil }
        self.init(account: parts[0], kind: parts[1], id: parts[2])
    }

    public var description: String { "\(account)/\(kind)/\(id)" }

    public static func < (a: ConfigKey, b: ConfigKey) -> Bool { a.description < b.description }
}

/// The kinds of configuration documents.
public enum ConfigKind {
    public static let account = "account"
    public static let apiKey = "apikey"

    public static func isValidName(_ kind: String) -> Bool {
        (1...32).contains(kind.utf8.count) && kind.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
    }
}

/// A versioned configuration document as stored on `cdp.config`:
/// `{"v":1,"aid","kind","id","version","created_ms","updated_ms","updated_by","doc":{...}}`.
/// Times are those of the write, carried in the record, so state stays a function of the log.
public struct ConfigDocument: Sendable, Equatable {
    public var key: ConfigKey
    /// 1 for a new document, +1 for each update.
    public var version: Int64
    public var createdMs: Int64
    public var updatedMs: Int64
    /// `admin` or `key:<api key id>`.
    public var updatedBy: String
    public var body: [String: JSONValue]

    public init(key: ConfigKey, version: Int64, createdMs: Int64, updatedMs: Int64, updatedBy: String, body: [String: JSONValue]) {
        self.key = key
        self.version = version
        self.createdMs = createdMs
        self.updatedMs = updatedMs
        self.updatedBy = updatedBy
        self.body = body
    }

    public var json: JSONValue {
        ["v": 1, "aid": .string(key.account), "kind": .string(key.kind), "id": .string(key.id), "version": .int(version),
         "created_ms": .int(createdMs), "updated_ms": .int(updatedMs), "updated_by": .string(updatedBy), "doc": .object(body)]
    }

    /// The view API clients get: the body plus id, version and times (never secrets; see `publicBody`).
    public func apiJSON(hiding secrets: Set<String> = []) -> JSONValue {
        var out = body.filter { !secrets.contains($0.key) }
        // Nested secrets: "destination.secret" hides that key of the object `destination`.
        for path in secrets where path.contains(".") {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            if case .object(var inner)? = out[parts[0]], inner[parts[1]] != nil {
                inner[parts[1]] = nil
                inner[parts[1] + "_set"] = true
                out[parts[0]] = .object(inner)
            }
        }
        out["id"] = .string(key.id)
        out["aid"] = .string(key.account)
        out["version"] = .int(version)
        out["created"] = .string(Timestamp.rfc3339Millis(epochMs: createdMs))
        out["updated"] = .string(Timestamp.rfc3339Millis(epochMs: updatedMs))
        out["updated_by"] = .string(updatedBy)
        return .object(out)
    }

    public static func parse(key: ConfigKey, value: [UInt8]) -> ConfigDocument? {
        guard let v = try? JSONParser().parse(value), case .object(let o) = v,
              o["v"]?.intValue == 1,
              o["aid"]?.stringValue == key.account, o["kind"]?.stringValue == key.kind, o["id"]?.stringValue == key.id,
              let version = o["version"]?.intValue, version >= 1,
              let created = o["created_ms"]?.intValue, let updated = o["updated_ms"]?.intValue,
              let by = o["updated_by"]?.stringValue, case .object(let body)? = o["doc"] else { return nil }
        return ConfigDocument(key: key, version: version, createdMs: created, updatedMs: updated, updatedBy: by, body: body)
    }
}
