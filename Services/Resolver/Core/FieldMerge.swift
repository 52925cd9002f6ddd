import QL

/// A profile field's value and the event time(s) behind it.
public struct FieldState: Sendable, Equatable {
    public var value: QLValue
    /// Event time of the value (scalars) — for `latest`/`oldest` ordering.
    public var timeMs: Int64
    /// Per map key or set member: event time (for latestmap/oldestmap and ts[]string).
    public var keyTimes: [String: Int64] = [:]
    /// The stream of the event that last changed the field (for `?explain=true`).
    public var stream: String?
    /// The event time of that change.
    public var changedAtMs: Int64?

    public init(value: QLValue, timeMs: Int64, keyTimes: [String: Int64] = [:]) {
        self.value = value
        self.timeMs = timeMs
        self.keyTimes = keyTimes
    }
}

/// The LQL merge operators: how an event's value combines with the stored one. Ordered by event
/// time, so a late, older event never overwrites a newer `latest`.
public enum FieldMerge {
    /// The kind a value implies when the schema does not name the field.
    public static func kind(of value: QLValue) -> String {
        switch value {
        case .int: "int"
        case .number: "number"
        case .bool: "bool"
        case .time: "date"
        case .strings, .list: "[]string"
        case .map(let m):
            if m.values.allSatisfy({ if case .int = $0 { true } else { false } }) { "map[string]int" }
            else if m.values.allSatisfy({ if case .time = $0 { true } else { false } }) { "map[string]time" }
            else { "map[string]string" }
        default: "string"
        }
    }

    /// The value coerced to the field's kind (nil when it cannot be).
    static func coerce(_ value: QLValue, to kind: String) -> QLValue? {
        switch kind {
        case "int":
            switch value {
            case .int: return value
            case .number(let d): return .int(Int64(d))
            case .time(let t): return .int(t)
            default: return value.numeric.map { .int(Int64($0)) }
            }
        case "number": return value.numeric.map(QLValue.number)
        case "bool":
            if case .bool = value { return value }
            return QLValue.parseBool(value.stringForm).map(QLValue.bool)
        case "date":
            if case .time = value { return value }
            return DateMath.time(value, now: 0).map(QLValue.time)
        case "string": return .string(value.stringForm)
        case "[]string", "ts[]string":
            switch value {
            case .strings: return value
            case .list(let items): return .strings(items.map(\.stringForm))
            default: return .strings([value.stringForm])
            }
        case "[]time":
            switch value {
            case .time: return .list([value])
            case .list(let items): return .list(items.compactMap { DateMath.time($0, now: 0).map(QLValue.time) })
            default: return DateMath.time(value, now: 0).map { .list([.time($0)]) }
            }
        default:
            guard case .map(let m) = value else { return nil }
            let valueKind = String(kind.dropFirst("map[string]".count))
            let scalar = valueKind == "time" ? "date" : valueKind
            return .map(m.compactMapValues { coerce($0, to: scalar) })
        }
    }

    /// Combines a new event value into the stored state.
    public static func apply(_ spec: FieldSpec, _ stored: FieldState?, _ raw: QLValue, at time: Int64) -> FieldState? {
        guard let value = coerce(raw, to: spec.kind) else { return stored }
        let incoming = FieldState(value: value, timeMs: time, keyTimes: keyTimes(value, at: time))
        guard let stored else { return incoming }
        return combine(spec, stored, incoming)
    }

    static func keyTimes(_ value: QLValue, at time: Int64) -> [String: Int64] {
        switch value {
        case .map(let m): Dictionary(uniqueKeysWithValues: m.keys.map { ($0, time) })
        case .strings(let items): Dictionary(items.map { ($0, time) }, uniquingKeysWith: max)
        default: [:]
        }
    }

    /// Combines two states of one field (also used when profiles merge). Commutative in the
    /// inputs' event times, so the order of arrival does not change the result.
    public static func combine(_ spec: FieldSpec, _ a: FieldState, _ b: FieldState) -> FieldState {
        let (older, newer) = (a.timeMs, a.value.stringForm) <= (b.timeMs, b.value.stringForm) ? (a, b) : (b, a)
        switch spec.mergeOp {
        case "oldest":
            return older
        case "min", "max":
            guard let x = a.value.numeric ?? time(a.value), let y = b.value.numeric ?? time(b.value) else { return newer }
            return (spec.mergeOp == "min") == (x <= y) ? a : b
        case "sum":
            switch (a.value, b.value) {
            case (.int(let x), .int(let y)): return FieldState(value: .int(x &+ y), timeMs: newer.timeMs)
            case (.map(let x), .map(let y)):
                var out = x
                for (k, v) in y { out[k] = add(out[k], v) }
                return FieldState(value: .map(out), timeMs: newer.timeMs, keyTimes: a.keyTimes.merging(b.keyTimes, uniquingKeysWith: max))
            default:
                guard let x = a.value.numeric, let y = b.value.numeric else { return newer }
                return FieldState(value: .number(x + y), timeMs: newer.timeMs)
            }
        case "merge", "latestmap", "oldestmap", "mapmin", "mapmax":
            return mergeCollections(spec.mergeOp, older, newer)
        default: // latest
            return newer
        }
    }

    static func time(_ v: QLValue) -> Double? {
        if case .time(let t) = v { return Double(t) }
        return nil
    }

    static func add(_ a: QLValue?, _ b: QLValue) -> QLValue {
        guard let a else { return b }
        if case .int(let x) = a, case .int(let y) = b { return .int(x &+ y) }
        return .number((a.numeric ?? 0) + (b.numeric ?? 0))
    }

    /// Sets (union, newest sighting per member) and maps (per-key rules).
    static func mergeCollections(_ op: String, _ older: FieldState, _ newer: FieldState) -> FieldState {
        switch (older.value, newer.value) {
        case (.strings(let x), .strings(let y)):
            var times = older.keyTimes
            for (k, t) in newer.keyTimes { times[k] = max(times[k] ?? t, t) }
            let members = Array(Set(x).union(y)).sorted { ((times[$0] ?? 0), $0) < ((times[$1] ?? 0), $1) }
            return FieldState(value: .strings(members), timeMs: newer.timeMs, keyTimes: times)
        case (.list(let x), .list(let y)):
            return FieldState(value: .list(Array(Set(x + y)).sorted { $0.stringForm < $1.stringForm }), timeMs: newer.timeMs)
        case (.map(let x), .map(let y)):
            var out = x
            var times = older.keyTimes
            for (k, v) in y {
                let t = newer.keyTimes[k] ?? newer.timeMs
                switch op {
                case "oldestmap":
                    if out[k] == nil || t < (times[k] ?? .max) { out[k] = v; times[k] = t }
                case "mapmin", "mapmax":
                    if let current = out[k], let c = current.numeric, let n = v.numeric {
                        if (op == "mapmin") == (n < c) { out[k] = v; times[k] = t }
                    } else if out[k] == nil {
                        out[k] = v
                        times[k] = t
                    }
                default: // merge / latestmap: per key, the newest value wins; keys accumulate
                    if t >= (times[k] ?? .min) { out[k] = v; times[k] = t }
                }
            }
            return FieldState(value: .map(out), timeMs: newer.timeMs, keyTimes: times)
        default:
            return newer
        }
    }
}
