import Model
import QL
import Runtime

extension AccountSchema {
    /// Reads a schema document:
    /// `{"identity_keys":[{"field","rank","kind":"string"|"set","capacity","on_full":"reject"|"evict_oldest",
    ///   "ttl_days","blocked":[...]}], "fields":[{"name","kind","merge_op"}], "max_identifiers":50,
    ///   "mappings":"SELECT ... ; SELECT ..."}`. Missing parts take the defaults.
    public static func parse(_ json: JSONValue) throws(ValidationError) -> AccountSchema {
        guard case .object(let o) = json else { throw .invalid("a schema is a JSON object") }
        let defaults = AccountSchema.defaultSchema()
        var keys = defaults.identity.keys
        if let raw = o["identity_keys"] {
            guard let list = raw.arrayValue, !list.isEmpty else { throw .invalid("identity_keys must be a non-empty list") }
            keys = []
            for (i, item) in list.enumerated() {
                guard let field = item["field"]?.stringValue, !field.isEmpty else { throw .invalid("identity_keys[\(i)].field is required") }
                guard let rank = item["rank"]?.intValue, rank >= 1 else { throw .invalid("identity_keys[\(i)].rank must be an integer ≥ 1") }
                guard let kind = IdentityKey.Kind(rawValue: item["kind"]?.stringValue ?? "string") else { throw .invalid("identity_keys[\(i)].kind must be string or set") }
                guard let onFull = IdentityKey.OnFull(rawValue: item["on_full"]?.stringValue ?? "reject") else { throw .invalid("identity_keys[\(i)].on_full must be reject or evict_oldest") }
                let capacity = Int(item["capacity"]?.intValue ?? (kind == .set ? 10 : 1))
                guard capacity >= 1, capacity <= 10_000 else { throw .invalid("identity_keys[\(i)].capacity must be 1 to 10000") }
                let ttl = item["ttl_days"]?.intValue.map(Int.init)
                if let ttl, ttl < 1 { throw .invalid("identity_keys[\(i)].ttl_days must be ≥ 1") }
                var blocked = IdentityKey.defaultBlocked
                if let extra = item["blocked"]?.arrayValue { blocked.formUnion(extra.compactMap(\.stringValue).map { $0.lowercased() }) }
                if keys.contains(where: { $0.field == field }) { throw .invalid("identity key \(field) given twice") }
                keys.append(IdentityKey(field: field, rank: Int(rank), kind: kind, capacity: capacity, onFull: onFull, ttlDays: ttl, blocked: blocked))
            }
        }
        var fields: [FieldSpec] = []
        for (i, item) in (o["fields"]?.arrayValue ?? []).enumerated() {
            guard let name = item["name"]?.stringValue, let kind = item["kind"]?.stringValue else { throw .invalid("fields[\(i)] needs name and kind") }
            guard LQLKinds.kinds.contains(kind) else { throw .invalid("fields[\(i)].kind '\(kind)' is not an LQL kind") }
            let op = item["merge_op"]?.stringValue
            if let op, !mergeOp(op, suits: kind) { throw .invalid("fields[\(i)]: merge_op \(op) does not suit kind \(kind)") }
            fields.append(FieldSpec(name: name, kind: kind, mergeOp: op))
        }
        let maxIdentifiers = Int(o["max_identifiers"]?.intValue ?? 50)
        guard maxIdentifiers >= 1, maxIdentifiers <= 10_000 else { throw .invalid("max_identifiers must be 1 to 10000") }
        let identity = IdentitySchema(keys: keys, fields: fields, maxIdentifiers: maxIdentifiers)
        return try AccountSchema(identity: identity, mappingText: o["mappings"]?.stringValue ?? defaultMappingText)
    }
}

extension Profile {
    /// A profile that keeps colliding with others (shared devices, junk identifiers) is flagged
    /// unhealthy; the segmenter puts it in no audience.
    public static let unhealthyConflicts = 10
    public var isUnhealthy: Bool { conflicts.count >= Profile.unhealthyConflicts }

    /// Per field: the stream and event time of the last change (`?explain=true`).
    public var explanation: JSONValue {
        .object(fields.mapValues { state in
            ["stream": state.stream.map(JSONValue.string) ?? .null,
             "event_time": state.changedAtMs.map { .string(Timestamp.rfc3339Millis(epochMs: $0)) } ?? .null]
        })
    }

    /// The profile as published: id, version, identities, fields, merged ids and meta.
    public func json(account: String) -> JSONValue {
        var identities: [String: JSONValue] = [:]
        for (field, held) in self.identities where !held.isEmpty { identities[field] = .array(held.map { .string($0.value) }) }
        return [
            "v": 1, "aid": .string(account), "id": .string(id), "version": .int(version),
            "created": .string(Timestamp.rfc3339Millis(epochMs: createdMs)), "updated": .string(Timestamp.rfc3339Millis(epochMs: updatedMs)),
            "identities": .object(identities),
            "fields": .object(fields.mapValues(\.value.json)),
            // The value type of each field, so readers can restore times (JSON has none).
            "types": .object(fields.mapValues { .string($0.value.typeName) }),
            "merged": .array(merged.map(JSONValue.string)),
            "meta": ["events": .int(Int64(eventCount)), "streams": .array(streams.map(JSONValue.string)),
                     "_num_conflicts": .int(Int64(conflicts.count)), "conflicts": .array(conflicts.map { .string($0.description) }),
                     "unhealthy": .bool(isUnhealthy)],
        ]
    }

    /// The bytes of `json(account:).serializedBytes()`, written directly (every published profile
    /// goes through here; building the JSON tree first cost more than resolving the event).
    public func jsonBytes(account: String) -> [UInt8] {
        ByteWriter.bytes(estimate: 2048) { writeJSON(account: account, to: &$0) }
    }

    /// Appends the bytes of `jsonBytes(account:)` to `out`.
    public func writeJSON(account: String, to out: inout [UInt8]) {
        // Room for a typical web profile: seldom written twice.
        ByteWriter.append(to: &out, estimate: 2048) { writeJSON(account: account, to: &$0) }
    }

    /// Writes the bytes of `jsonBytes(account:)`.
    public func writeJSON(account: String, to w: inout ByteWriter) {
        func key(_ k: StaticString) {
            w.byte(0x22)
            w.bytes(k)
            w.byte(0x22)
            w.byte(0x3A)
        }
        func strings<S: Sequence<String>>(_ items: S) {
            w.byte(0x5B)
            var first = true
            for s in items {
                if !first { w.byte(0x2C) }
                first = false
                w.quoted(s)
            }
            w.byte(0x5D)
        }
        w.byte(0x7B)
        key("aid"); w.quoted(account); w.byte(0x2C)
        key("created"); w.quotedTime(epochMs: createdMs); w.byte(0x2C)
        key("fields"); w.byte(0x7B)
        // The table is ordered by name, as JSON objects are written.
        for i in 0..<fields.count {
            if i > 0 { w.byte(0x2C) }
            w.quoted(fields.name(at: i))
            w.byte(0x3A)
            fields[at: i].value.writeJSON(to: &w)
        }
        w.byte(0x7D); w.byte(0x2C)
        key("id"); w.quoted(id); w.byte(0x2C)
        key("identities"); w.byte(0x7B)
        var first = true
        for (field, held) in identities { // in name order
            if held.isEmpty { continue }
            if !first { w.byte(0x2C) }
            first = false
            w.quoted(field)
            w.byte(0x3A)
            strings(held.lazy.map(\.value))
        }
        w.byte(0x7D); w.byte(0x2C)
        key("merged"); strings(merged); w.byte(0x2C)
        key("meta"); w.byte(0x7B)
        key("_num_conflicts"); w.int(Int64(conflicts.count)); w.byte(0x2C)
        key("conflicts"); strings(conflicts.lazy.map(\.description)); w.byte(0x2C)
        key("events"); w.int(Int64(eventCount)); w.byte(0x2C)
        key("streams"); strings(streams); w.byte(0x2C)
        key("unhealthy"); w.bytes(isUnhealthy ? "true" : "false")
        w.byte(0x7D); w.byte(0x2C)
        key("types"); w.byte(0x7B)
        for i in 0..<fields.count {
            if i > 0 { w.byte(0x2C) }
            w.quoted(fields.name(at: i))
            w.byte(0x3A)
            w.quoted(fields[at: i].value.typeName)
        }
        w.byte(0x7D); w.byte(0x2C)
        key("updated"); w.quotedTime(epochMs: updatedMs); w.byte(0x2C)
        key("v"); w.byte(0x31); w.byte(0x2C)
        key("version"); w.int(version)
        w.byte(0x7D)
    }
}

extension AccountSchema {
    /// The members a schema document is made of.
    public static let documentMembers = ["identity_keys", "fields", "max_identifiers", "mappings"]
    static let identityKeyMembers = ["field", "rank", "kind", "capacity", "on_full", "ttl_days", "blocked"]
    static let fieldMembers = ["name", "kind", "merge_op", "short_description", "long_description"]

    /// Why a schema document sent to be saved is not one, beyond what `parse` checks: a member no
    /// part of the schema reads (`DocumentMembers`), or a member of the wrong type (which `parse`
    /// would take as absent: `"ttl_days":"30"` would mean no TTL). Stored documents are read by `parse` alone, so one saved before this check still
    /// loads. Metadata members are allowed (a document fetched with GET can be sent back as it is).
    public static func strictProblem(_ o: [String: JSONValue]) -> String? {
        if let problem = DocumentMembers.stray(o, known: documentMembers, what: "a schema", allowingMetadata: true) { return problem }
        for (i, item) in (o["identity_keys"]?.arrayValue ?? []).enumerated() {
            guard case .object(let key) = item else { return "identity_keys[\(i)] must be an object" }
            if let problem = DocumentMembers.stray(key, known: identityKeyMembers, at: "identity_keys[\(i)]: ", what: "an identity key") { return problem }
            // A value of the wrong type would otherwise read as absent (the default).
            for name in ["kind", "on_full"] where key[name] != nil && key[name]?.stringValue == nil {
                return "identity_keys[\(i)].\(name) must be a string"
            }
            for name in ["capacity", "ttl_days"] where key[name] != nil && key[name] != .null && key[name]?.intValue == nil {
                return "identity_keys[\(i)].\(name) must be a whole number"
            }
            if let blocked = key["blocked"], blocked.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
                return "identity_keys[\(i)].blocked must be a list of strings"
            }
        }
        if let fields = o["fields"], fields.arrayValue == nil { return "fields must be a list" }
        for (i, item) in (o["fields"]?.arrayValue ?? []).enumerated() {
            guard case .object(let field) = item else { return "fields[\(i)] must be an object" }
            if let problem = DocumentMembers.stray(field, known: fieldMembers, at: "fields[\(i)]: ", what: "a field") { return problem }
            for name in ["name", "kind", "merge_op", "short_description", "long_description"] {
                if let text = field[name], text.stringValue == nil { return "fields[\(i)].\(name) must be a string" }
            }
        }
        if let max = o["max_identifiers"], max.intValue == nil { return "max_identifiers must be a whole number" }
        if let mappings = o["mappings"], mappings.stringValue == nil { return "mappings must be LQL text (a string)" }
        return nil
    }
}

extension AccountSchema {
    /// The schema an account's events are mapped with: its current `schema` document; if that
    /// does not parse (it reached `cdp.config` past the API's checks), the newest version of its
    /// history (`schemaversion` documents) that does, else the default web schema — with the
    /// reason, for the operator. A function of the config state, as the mapping must be.
    public static func inEffect(current: ConfigDocument?, history: [ConfigDocument]) -> (schema: AccountSchema, problem: String?) {
        guard let current else { return (defaultSchema(), nil) }
        let problem: String
        do throws(ValidationError) {
            return (try parse(.object(current.body)), nil)
        } catch {
            problem = "schema version \(current.version) of account '\(current.key.account)' is invalid (\(error))"
        }
        for doc in history.sorted(by: { (Int($0.key.id) ?? 0) > (Int($1.key.id) ?? 0) }) {
            if let schema = try? parse(.object(doc.body)) { return (schema, "\(problem); using version \(doc.key.id)") }
        }
        return (defaultSchema(), "\(problem); using the default schema")
    }
}
