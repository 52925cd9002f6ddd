import Model
import QL
import Runtime

/// An account's schema: fields, identity keys and stream mappings (LQL).
public struct AccountSchema: Sendable {
    public var identity: IdentitySchema
    /// Stream → its SELECT mappings.
    public private(set) var mappings: [String: [SelectStatement]]
    /// The LQL text the mappings came from.
    public var mappingText: String
    /// The mappings compiled (parallel to `mappings`; nil where a statement does not compile,
    /// which then runs in the interpreter).
    public private(set) var programs: [String: [QLSelectProgram?]] = [:]

    /// Identity fields recognised by name in streams without a mapping.
    public static let defaultIdentityFields = ["user_id", "email", "_uid"]

    /// Segment's message fields that streams without a mapping also read (the collector's `/v1`
    /// routes keep messages as sent): `userId` and `anonymousId` as the `user_id` and `_uid`
    /// identities (an `alias` call's `previousId` as a `_uid` too: usually the anonymous id the
    /// person had, so the alias joins the two), and the person's `traits` (top-level for identify,
    /// under `context` for the other calls) as identities by name and fields. A top-level field
    /// of the same name wins.
    enum SegmentField { case identity(String), traits, context }
    static let segmentFields: [String: SegmentField] = ["userId": .identity("user_id"), "anonymousId": .identity("_uid"), "previousId": .identity("_uid"),
                                                        "traits": .traits, "context": .context]

    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case lql(QLError)
        case invalid(String)
        public var description: String {
            switch self {
            case .lql(let e): "mappings: \(e)"
            case .invalid(let m): m
            }
        }
    }

    public init(identity: IdentitySchema, mappingText: String) throws(ValidationError) {
        self.identity = identity
        self.mappingText = mappingText
        var mappings: [String: [SelectStatement]] = [:]
        let statements: [QLStatement]
        do throws(QLError) {
            statements = try QLParser.parseAll(mappingText)
        } catch {
            throw .lql(error)
        }
        for statement in statements {
            guard case .select(let s) = statement else { throw .invalid("mappings hold SELECT statements only") }
            for column in s.columns where column.mergeOp != nil && column.kind != nil {
                if !Self.mergeOp(column.mergeOp!, suits: column.kind!) {
                    throw .invalid("field \(column.name): MERGEOP \(column.mergeOp!) does not suit KIND \(column.kind!)")
                }
            }
            mappings[s.from, default: []].append(s)
        }
        self.mappings = mappings
        programs = mappings.mapValues { statements in statements.map { try? QLSelectProgram($0) } }
        // Fields declared in mappings (KIND/MERGEOP) join the schema's field list.
        for statement in mappings.values.flatMap({ $0 }) {
            for column in statement.columns where self.identity.fields[column.name] == nil && identity.key(column.name) == nil {
                if let kind = column.kind {
                    self.identity.fields[column.name] = FieldSpec(name: column.name, kind: kind, mergeOp: column.mergeOp)
                }
            }
        }
    }

    /// Whether a merge operator can combine values of a kind.
    public static func mergeOp(_ op: String, suits kind: String) -> Bool {
        let map = kind.hasPrefix("map[")
        let collection = kind.hasPrefix("[]") || kind == "ts[]string"
        switch op {
        case "latest", "oldest": return true
        case "min", "max": return ["int", "number", "date"].contains(kind)
        case "sum": return ["int", "number", "map[string]int", "map[string]number"].contains(kind)
        case "merge": return map || collection
        case "latestmap", "oldestmap": return map
        case "mapmin", "mapmax": return kind == "map[string]int" || kind == "map[string]number" || kind == "map[string]time"
        default: return false
        }
    }

    /// Lytics's default web mapping: identities user_id (rank 1), email (rank 2, normalised) and
    /// the cookie _uid (set, evict_oldest, 20), plus visit counts and times, paths seen, hourly
    /// activity, channels and last activity per channel.
    public static let defaultMappingText = """
    SELECT
        user_id                        AS user_id
      , email(email)                   AS email
      , _uid                           AS _uid
      , count(_uid)                    AS visitct       KIND int              MERGEOP sum
      , now()                          AS first_visit   KIND date             MERGEOP oldest
      , now()                          AS last_visit    KIND date             MERGEOP latest
      , set(path(url))                 AS urls          KIND []string         MERGEOP merge
      , valuect(hourofweek())          AS hourly        KIND map[string]int   MERGEOP sum
      , set("web")                     AS channels      KIND []string         MERGEOP merge
      , map("web", now())              AS last_channel_activities KIND map[string]time MERGEOP latestmap
    FROM web
    INTO user
    BY user_id OR email OR _uid
    ALIAS default_web
    """

    public static func defaultSchema() -> AccountSchema {
        let identity = IdentitySchema(keys: [
            IdentityKey(field: "user_id", rank: 1),
            IdentityKey(field: "email", rank: 2),
            IdentityKey(field: "_uid", rank: 3, kind: .set, capacity: 20, onFull: .evictOldest),
        ])
        // The default text is a constant that parses (tested).
        return try! AccountSchema(identity: identity, mappingText: defaultMappingText)
    }
}

/// Turns a raw event into identifiers and field values through the account's mappings.
public enum EventMapper {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The mapping's WHERE dropped the event (not an error; counted).
        case filtered
        case badData(String)
        public var description: String {
            switch self {
            case .filtered: "dropped by the mapping's WHERE"
            case .badData(let m): m
            }
        }
    }

    /// Event data as record values (JSON integers → int, fractions → number, ...).
    public static func fields(_ data: [String: JSONValue]) -> [String: QLValue] {
        var out: [String: QLValue] = [:]
        for (k, v) in data { if let q = QLValue(json: v) { out[k] = q } }
        return out
    }

    /// Buffers one thread reuses from event to event (a compiled mapping's slot values and
    /// columns), instead of two new arrays per event.
    public final class Scratch {
        var slots: [QLValue?] = []
        var columns: [(column: Int, value: QLValue)] = []
        public init() {}
    }

    /// Maps one event. Date math and `now()` use the event's own time, never the wall clock.
    /// `scratch` (one per thread) saves allocations when mapping many events.
    public static func map(_ event: EventRecord, schema: AccountSchema, scratch: Scratch? = nil) -> Result<MappedEvent, Failure> {
        let scratch = scratch ?? Scratch()
        // The whole record as values only where something reads it all: compiled mappings read
        // just their slots, converted one by one.
        var converted: [String: QLValue]?
        func context() -> QLContext {
            if converted == nil { converted = fields(event.data) }
            return QLContext(fields: converted!, messageTimeMs: event.timestampMs, nowMs: event.timestampMs)
        }
        var identifiers: [Identifier] = []
        var mapped: [MappedEvent.Field] = []
        if let statements = schema.mappings[event.stream] {
            var anyRow = false
            let compiled = schema.programs[event.stream]
            // One statement whose columns have distinct names yields each name once; otherwise a
            // later value replaces an earlier one of the same name (as in a row).
            var replacing = statements.count > 1
            // By position: the statement itself is read only where it is interpreted (a copy of
            // each statement per event retained and released everything it holds).
            for i in statements.indices {
                if let program = compiled?[i] ?? nil, !program.hasRepeatedNames {
                    // Compiled, columns reported one by one: no row table per event.
                    let record: [String: QLValue]
                    scratch.slots.removeAll(keepingCapacity: true)
                    if program.readsWholeRecord {
                        record = context().fields
                        for slot in program.slots { scratch.slots.append(record[slot]) }
                    } else {
                        record = [:]
                        for slot in program.slots { scratch.slots.append(event.data[slot].flatMap(QLValue.init(json:))) }
                    }
                    guard program.evaluate(slotValues: scratch.slots, fields: record, nowMs: event.timestampMs, messageTimeMs: event.timestampMs,
                                           into: &scratch.columns) else { continue }
                    let columns = scratch.columns
                    anyRow = true
                    if mapped.isEmpty { mapped.reserveCapacity(columns.count) }
                    for (column, value) in columns {
                        place(program.columnNames[column], value, schema.identity, replacing: replacing, &identifiers, &mapped)
                    }
                    continue
                }
                let selected = if let program = compiled?[i] ?? nil {
                    program.row(context().fields, nowMs: event.timestampMs, messageTimeMs: event.timestampMs)
                } else {
                    QLEvaluator.select(statements[i], context())
                }
                guard let row = selected else { continue }
                anyRow = true
                replacing = true
                for (name, value) in row { place(name, value, schema.identity, replacing: true, &identifiers, &mapped) }
            }
            if !anyRow { return .failure(.filtered) }
        } else {
            // No mapping for this stream: identities by name, other top-level scalars as latest;
            // then Segment's conventions (`userId`, `anonymousId`, and the person's `traits`,
            // also under `context`), for what the top level did not already give.
            let context = context()
            func unmapped(_ name: String, _ value: QLValue, topLevel: Bool) {
                if schema.identity.key(name) != nil || AccountSchema.defaultIdentityFields.contains(name) {
                    guard schema.identity.key(name) != nil else { return }
                    // An email is what email() makes of it, as in the default web mapping: text
                    // that is no address ("n/a", "unknown") identifies nobody, rather than
                    // merging everyone who gave it.
                    guard let normalised = name == "email" ? Builtins.table["email"]!.call([value], context) : value else { return }
                    appendIdentifiers(name, normalised, to: &identifiers)
                } else if topLevel || !mapped.contains(where: { $0.name == name }) {
                    switch value {
                    case .int, .number, .bool, .string, .time: mapped.append(MappedEvent.Field(name, value))
                    default: return
                    }
                }
            }
            for (name, value) in context.fields where AccountSchema.segmentFields[name] == nil { unmapped(name, value, topLevel: true) }
            var topTraits: [String: QLValue] = [:]
            if case .map(let t)? = context.fields["traits"] { topTraits = t }
            for (name, value) in context.fields {
                switch AccountSchema.segmentFields[name] {
                case .identity(let key)? where context.fields[key] == nil: unmapped(key, value, topLevel: false)
                case .traits?:
                    guard case .map(let traits) = value else { break }
                    for (trait, v) in traits.sorted(by: { $0.key < $1.key }) where context.fields[trait] == nil { unmapped(trait, v, topLevel: false) }
                case .context?:
                    guard case .map(let c) = value, case .map(let traits)? = c["traits"] else { break }
                    for (trait, v) in traits.sorted(by: { $0.key < $1.key }) where context.fields[trait] == nil && topTraits[trait] == nil {
                        unmapped(trait, v, topLevel: false)
                    }
                default: break
                }
            }
        }
        return .success(MappedEvent(id: event.id, stream: event.stream, timeMs: event.timestampMs, identifiers: identifiers, fields: mapped))
    }

    /// A mapped column: an identity key's values become identifiers, any other column a field
    /// value (`replacing` an earlier one of the same name when there can be one).
    static func place(_ name: String, _ value: QLValue, _ identity: IdentitySchema, replacing: Bool,
                      _ identifiers: inout [Identifier], _ fields: inout [MappedEvent.Field]) {
        if identity.keys.contains(where: { $0.field == name }) {
            appendIdentifiers(name, value, to: &identifiers)
        } else if replacing, let j = fields.firstIndex(where: { $0.name == name }) {
            fields[j].value = value
        } else {
            fields.append(MappedEvent.Field(name, value))
        }
    }

    /// The identifiers a column's value yields (no array of values first: most are one string).
    static func appendIdentifiers(_ name: String, _ value: QLValue, to identifiers: inout [Identifier]) {
        if identifiers.isEmpty { identifiers.reserveCapacity(4) } // once, not grown per identity key
        switch value {
        case .strings(let xs): for x in xs { identifiers.append(Identifier(name, x)) }
        case .list(let xs):
            for x in xs {
                switch x {
                case .null, .map, .list: continue
                default: identifiers.append(Identifier(name, x.stringForm))
                }
            }
        case .null, .map: break // a map is no identity value
        default: identifiers.append(Identifier(name, value.stringForm))
        }
    }
}
