import Runtime

/// What applying one `cdp.config` record did.
public enum ConfigChange: Sendable, Equatable {
    case applied(ConfigDocument)
    case deleted(ConfigKey)
    /// A write based on a version that was no longer current (optimistic concurrency lost).
    case conflict(ConfigKey, expected: Int64, current: Int64)
    /// A record that is not a valid configuration record (it changes nothing).
    case invalid(String)
}

/// Every account's configuration, rebuilt by applying `cdp.config` in log order. Pure: the same
/// records give the same state on every collector and daemon.
///
/// Writes are compare-and-set in log order: a document with version n applies only over
/// version n-1 (or nothing, for n = 1). Two writers racing from the same version both produce a
/// record; the first in the log wins and every reader sees the second as a conflict.
public struct ConfigState: Sendable {
    public private(set) var documents: [ConfigKey: ConfigDocument] = [:]
    /// SHA-256 (hex) of an API key's token → the key's document.
    public private(set) var tokenIndex: [String: ConfigKey] = [:]
    /// Counts the records that changed something (applied or deleted): a reader that derived
    /// something from the documents can keep it while this has not moved.
    public private(set) var generation: UInt64 = 0

    public init() {}

    public mutating func apply(key rawKey: String?, value: [UInt8]?) -> ConfigChange {
        guard let rawKey, let key = ConfigKey(parsing: rawKey) else {
            return .invalid("record key '\(rawKey ?? "")' is not <aid>/<kind>/<id>")
        }
        guard let value else {
            // A tombstone deletes whatever version is there.
            remove(key)
            generation += 1
            return .deleted(key)
        }
        guard let document = ConfigDocument.parse(key: key, value: value) else {
            return .invalid("value of \(key) is not a valid configuration document")
        }
        let current = documents[key]?.version ?? 0
        guard document.version == current + 1 else {
            return .conflict(key, expected: document.version - 1, current: current)
        }
        remove(key)
        documents[key] = document
        generation += 1
        if key.kind == ConfigKind.apiKey, let hash = document.body["token_sha256"]?.stringValue {
            tokenIndex[hash] = key
        }
        return .applied(document)
    }

    private mutating func remove(_ key: ConfigKey) {
        if let old = documents.removeValue(forKey: key), key.kind == ConfigKind.apiKey,
           let hash = old.body["token_sha256"]?.stringValue {
            tokenIndex[hash] = nil
        }
    }

    public func document(_ key: ConfigKey) -> ConfigDocument? { documents[key] }

    /// Documents of one kind in one account, ordered by id.
    public func documents(account: String, kind: String) -> [ConfigDocument] {
        documents.values.filter { $0.key.account == account && $0.key.kind == kind }.sorted { $0.key.id < $1.key.id }
    }

    /// Documents of one kind in every account, ordered by key.
    public func documents(kind: String) -> [ConfigDocument] {
        documents.values.filter { $0.key.kind == kind }.sorted { ($0.key.account, $0.key.id) < ($1.key.account, $1.key.id) }
    }

    public var accounts: [ConfigDocument] {
        documents.values.filter { $0.key.kind == ConfigKind.account }.sorted { $0.key.id < $1.key.id }
    }

    public func account(_ id: String) -> ConfigDocument? {
        documents[ConfigKey(account: id, kind: ConfigKind.account, id: id)]
    }

    /// The API key whose token hashes to `tokenSHA256` (hex).
    public func apiKey(tokenSHA256: String) -> ConfigDocument? {
        tokenIndex[tokenSHA256].flatMap { documents[$0] }
    }
}
