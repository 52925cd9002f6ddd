import QL

/// A profile field's value and the event time(s) behind it.
public struct FieldState: Sendable, Equatable {
    public var value: QLValue
    /// Event time of the value (scalars) — for `latest`/`oldest` ordering.
    public var timeMs: Int64
    /// Per map key or set member: event time (for latestmap/oldestmap and ts[]string).
    public var keyTimes = KeyTimes()
    /// The stream of the event that last changed the field (for `?explain=true`).
    public var stream: String?
    /// The event time of that change.
    public var changedAtMs: Int64?

    public init(value: QLValue, timeMs: Int64, keyTimes: KeyTimes = [:]) {
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
            // A number outside Int64 (or not finite) is not an int: the field is left as it was.
            case .number(let d): return Int64(checked: d).map(QLValue.int)
            case .time(let t): return .int(t)
            default: return value.numeric.flatMap { Int64(checked: $0) }.map(QLValue.int)
            }
        // NaN and infinities (0 * 1e999, pow overflows) are no value: JSON cannot carry them.
        case "number": return value.numeric.flatMap { $0.isFinite ? QLValue.number($0) : nil }
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
            let scalar: String
            switch kind {
            case "map[string]int": scalar = "int"
            case "map[string]number": scalar = "number"
            case "map[string]string": scalar = "string"
            case "map[string]time": scalar = "date"
            default:
                let valueKind = String(kind.dropFirst("map[string]".count))
                scalar = valueKind == "time" ? "date" : valueKind
            }
            // Most event maps already hold the right kind: no new dictionary then.
            if m.values.allSatisfy({ isAlready($0, scalar) }) { return value }
            return .map(m.compactMapValues { coerce($0, to: scalar) })
        }
    }

    /// Whether coercing `value` to the scalar kind would return it unchanged.
    static func isAlready(_ value: QLValue, _ scalar: String) -> Bool {
        switch value {
        case .int: scalar == "int"
        case .number: scalar == "number"
        case .bool: scalar == "bool"
        case .time: scalar == "date"
        case .string: scalar == "string"
        default: false
        }
    }

    /// Applies an event value to a profile's stored field in place (no copy of its sets and maps)
    /// and, when the value changes, records the stream and time of the change. Gives the same
    /// state as `applyTracked` (checked by a property test); the common cases — an event newer
    /// than the field — are done in place, the rest through `combine`.
    public static func update(_ spec: FieldSpec, _ state: inout FieldState, _ raw: QLValue, at time: Int64, stream: String) {
        guard let value = coerce(raw, to: spec.kind) else { return }
        if time > state.timeMs, updateNewer(spec, &state, value, at: time, stream: stream) {
            trim(&state)
            return
        }
        state = combineTracked(spec, state, value, at: time, stream: stream)
    }

    /// The most entries a collection field keeps (set members, map keys, listed times). Past it
    /// the least recently seen entries go (by their own event times; maps whose operator keeps
    /// no per-key times — `sum` — keep the keys with the largest values): a profile is published
    /// whole on every change, and must stay well under the log's message size.
    public static let maxEntries = 1000

    /// Drops what is past `maxEntries`. Keeping the newest N by event time gives the same result
    /// whether applied once at the end or after every step, so merges stay order-independent.
    static func trim(_ state: inout FieldState) {
        // Counted first: binding the map below (captured by the ordering closures) boxes it on
        // the heap as soon as the case matches, which cost two allocations on every event.
        switch state.value {
        case .strings(let items) where items.count <= maxEntries: return
        case .map(let m) where m.count <= maxEntries: return
        case .list(let items) where items.count <= maxEntries: return
        default: break
        }
        trimOverCap(&state)
    }

    private static func trimOverCap(_ state: inout FieldState) {
        switch state.value {
        case .strings(var members) where members.count > maxEntries:
            state.value = .null
            if state.keyTimes.isEmpty {
                members = Array(members.suffix(maxEntries))
            } else {
                // Tracked sets are always ordered by (last sighting, value) — `initial`,
                // `mergeMembers` and `mergeCollections` keep them so — so the oldest lead.
                let dropped = members.count - maxEntries
                for m in members[..<dropped] { state.keyTimes[m] = nil }
                members.removeFirst(dropped)
            }
            state.value = .strings(members)
        case .map(var m) where m.count > maxEntries:
            state.value = .null
            let times = state.keyTimes
            // Least kept first: oldest sighting (then key), or for `sum` maps the smallest value
            // (then the larger key).
            let before: (String, String) -> Bool = times.isEmpty
                ? { a, b in ((m[a]?.numeric ?? 0), b) < ((m[b]?.numeric ?? 0), a) }
                : { a, b in ((times[a] ?? 0), a) < ((times[b] ?? 0), b) }
            let excess = m.count - maxEntries
            // Usually one entry over: find it rather than sort a thousand keys on every event.
            let dropped = excess == 1 ? [m.keys.min(by: before)!] : Array(m.keys.sorted(by: before)[..<excess])
            for k in dropped {
                m[k] = nil
                if !times.isEmpty { state.keyTimes[k] = nil }
            }
            state.value = .map(m)
        case .list(let items) where items.count > maxEntries:
            // Listed times: the latest; the list keeps its order.
            let keep = Set(items.sorted { (time($0) ?? 0, $0.stringForm) < (time($1) ?? 0, $1.stringForm) }.suffix(maxEntries))
            state.value = .list(items.filter { keep.contains($0) })
        default:
            break
        }
    }

    /// The plain definition `update` follows: `apply`, then the stream and time of the change
    /// when the value changed (else those of the stored state).
    public static func applyTracked(_ spec: FieldSpec, _ stored: FieldState, _ raw: QLValue, at time: Int64, stream: String) -> FieldState {
        guard let value = coerce(raw, to: spec.kind) else { return stored }
        return combineTracked(spec, stored, value, at: time, stream: stream)
    }

    /// `combine` with an already coerced event value, plus the change bookkeeping.
    static func combineTracked(_ spec: FieldSpec, _ before: FieldState, _ value: QLValue, at time: Int64, stream: String) -> FieldState {
        var after = combine(spec, before, FieldState(value: value, timeMs: time, keyTimes: keyTimes(spec, value, at: time)))
        if after.value != before.value {
            after.stream = stream
            after.changedAtMs = time
        } else {
            after.stream = before.stream
            after.changedAtMs = before.changedAtMs
        }
        return after
    }

    /// The first value of a field (nil when it cannot be coerced). Sets are kept ordered by last
    /// sighting, then value, from the start.
    public static func initial(_ spec: FieldSpec, _ raw: QLValue, at time: Int64, stream: String) -> FieldState? {
        guard var value = coerce(raw, to: spec.kind) else { return nil }
        if case .strings(let members) = value, spec.op == .merge, members.count > 1 { value = .strings(Array(Set(members)).sorted()) }
        var state = FieldState(value: value, timeMs: time, keyTimes: keyTimes(spec, value, at: time))
        state.stream = stream
        state.changedAtMs = time
        trim(&state)
        return state
    }

    /// `update` for an event newer than the stored value (it is `combine`'s "newer" side); false
    /// when the case is not handled here.
    static func updateNewer(_ spec: FieldSpec, _ state: inout FieldState, _ value: QLValue, at time: Int64, stream: String) -> Bool {
        var changed = false
        switch spec.op {
        case .oldest:
            return true
        case .latest:
            changed = state.value != value
            if !state.keyTimes.isEmpty { state.keyTimes = [:] }
            state.value = value
        // The stored collection is bound, then the state lets go of it, so it is changed in place
        // (matching on a tuple of both values would keep a second reference alive through the
        // case, and every change would copy the whole map or list first).
        case .sum:
            if case .int(let x) = state.value, case .int(let y) = value {
                changed = y != 0
                state.value = .int(x &+ y)
                if !state.keyTimes.isEmpty { state.keyTimes = [:] }
            } else if case .map(let y) = value, case .map(var out) = state.value {
                state.value = .null
                for (k, v) in y {
                    let old = out[k]
                    let new = add(old, v)
                    if old != new { changed = true }
                    out[k] = new
                }
                state.value = .map(out)
            } else {
                return false
            }
        case .merge, .latestmap, .oldestmap, .mapmin, .mapmax:
            if case .strings(let incoming) = value, case .strings(var members) = state.value {
                state.value = .null
                changed = mergeMembers(&members, &state.keyTimes, incoming, at: time)
                state.value = .strings(members)
            } else if case .map(let y) = value, case .map(var out) = state.value {
                state.value = .null
                for (k, v) in y {
                    let stored = state.keyTimes[k]
                    var take: Bool
                    switch spec.op {
                    case .oldestmap: take = out[k] == nil || time < (stored ?? .max)
                    case .mapmin, .mapmax:
                        if let current = out[k], let c = current.numeric, let n = v.numeric { take = (spec.op == .mapmin) == (n < c) }
                        else { take = out[k] == nil }
                    default: take = time >= (stored ?? .min)
                    }
                    guard take else { continue }
                    if out[k] != v { changed = true }
                    out[k] = v
                    state.keyTimes[k] = time
                }
                state.value = .map(out)
            } else {
                return false
            }
        case .min, .max:
            return false
        }
        state.timeMs = time
        if changed {
            state.stream = stream
            state.changedAtMs = time
        }
        return true
    }

    /// Set members seen at `time` (later than the field's time): each gets that sighting time and
    /// the list stays ordered by (last sighting, value). Returns whether the list changed.
    static func mergeMembers(_ members: inout [String], _ times: inout KeyTimes, _ incoming: [String], at time: Int64) -> Bool {
        if incoming.count == 1 { return mergeMember(&members, &times, incoming[0], at: time) }
        var moved: [String] = []
        for m in incoming where !moved.contains(m) {
            if let t = times[m], t >= time {
                // Not newer than its last sighting: it stays; a member known only by its time joins.
                if !members.contains(m) { moved.append(m) }
                continue
            }
            times[m] = time
            moved.append(m)
        }
        if moved.isEmpty { return false }
        func key(_ m: String) -> (Int64, String) { (times[m] ?? 0, m) }
        moved.sort { key($0) < key($1) }
        // The common case: the members seen again already end the list, in their new order.
        let n = members.count, k = moved.count
        if k <= n, members[(n - k)...].elementsEqual(moved), n == k || key(members[n - k - 1]) < key(moved[0]) { return false }
        let before = members
        members.removeAll { moved.contains($0) }
        for m in moved {
            let k = key(m)
            if let last = members.last, key(last) > k {
                // Binary search for the first member ordered after m.
                var lo = 0, hi = members.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if key(members[mid]) > k { hi = mid } else { lo = mid + 1 }
                }
                members.insert(m, at: lo)
            } else {
                members.append(m)
            }
        }
        return members != before
    }

    /// `mergeMembers` for one member (an event mostly brings one: a page's path, a channel),
    /// without its lists: the member takes its place by (time, name) where it is.
    static func mergeMember(_ members: inout [String], _ times: inout KeyTimes, _ m: String, at time: Int64) -> Bool {
        let was = members.firstIndex(of: m)
        if let t = times[m], t >= time {
            // Not newer than its last sighting: it stays; a member known only by its time joins.
            if was != nil { return false }
        } else {
            times[m] = time
        }
        func key(_ m: String) -> (Int64, String) { (times[m] ?? 0, m) }
        let k = key(m)
        if let was { members.remove(at: was) }
        var at = members.count
        if let last = members.last, key(last) > k {
            // Binary search for the first member ordered after m.
            var lo = 0, hi = members.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if key(members[mid]) > k { hi = mid } else { lo = mid + 1 }
            }
            at = lo
        }
        members.insert(m, at: at)
        return at != was
    }

    /// Combines a new event value into the stored state.
    public static func apply(_ spec: FieldSpec, _ stored: FieldState?, _ raw: QLValue, at time: Int64) -> FieldState? {
        guard let value = coerce(raw, to: spec.kind) else { return stored }
        var incoming = FieldState(value: value, timeMs: time, keyTimes: keyTimes(spec, value, at: time))
        guard let stored else {
            trim(&incoming)
            return incoming
        }
        return combine(spec, stored, incoming)
    }

    /// Whether the operator orders set members or map keys by their own times (the others never
    /// read per-key times, so none are kept for them).
    static func tracksKeyTimes(_ op: MergeOperator) -> Bool {
        switch op {
        case .merge, .latestmap, .oldestmap, .mapmin, .mapmax: true
        default: false
        }
    }

    static func keyTimes(_ spec: FieldSpec, _ value: QLValue, at time: Int64) -> KeyTimes {
        tracksKeyTimes(spec.op) ? keyTimes(value, at: time) : [:]
    }

    static func keyTimes(_ value: QLValue, at time: Int64) -> KeyTimes {
        switch value {
        case .strings(let items) where items.count == 1: KeyTimes(items[0], time) // no sorting, one allocation
        case .map(let m) where m.count == 1: KeyTimes(m.first!.key, time)
        case .map(let m): KeyTimes(names: m.keys, value: time)
        case .strings(let items): KeyTimes(names: items, value: time)
        default: [:]
        }
    }

    /// Combines two states of one field (also used when profiles merge). Commutative in the
    /// inputs' event times, so the order of arrival does not change the result.
    public static func combine(_ spec: FieldSpec, _ a: FieldState, _ b: FieldState) -> FieldState {
        var out = combineUntrimmed(spec, a, b)
        trim(&out)
        return out
    }

    static func combineUntrimmed(_ spec: FieldSpec, _ a: FieldState, _ b: FieldState) -> FieldState {
        // Times decide; the string forms only break ties (they are costly for big sets).
        let aFirst = a.timeMs != b.timeMs ? a.timeMs < b.timeMs : a.value.stringForm <= b.value.stringForm
        let (older, newer) = aFirst ? (a, b) : (b, a)
        switch spec.op {
        case .oldest:
            return older
        case .min, .max:
            guard let x = a.value.numeric ?? time(a.value), let y = b.value.numeric ?? time(b.value) else { return newer }
            return (spec.op == .min) == (x <= y) ? a : b
        case .sum:
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
        case .merge, .latestmap, .oldestmap, .mapmin, .mapmax:
            return mergeCollections(spec.op, older, newer)
        case .latest:
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
    static func mergeCollections(_ op: MergeOperator, _ older: FieldState, _ newer: FieldState) -> FieldState {
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
                case .oldestmap:
                    if out[k] == nil || t < (times[k] ?? .max) { out[k] = v; times[k] = t }
                case .mapmin, .mapmax:
                    if let current = out[k], let c = current.numeric, let n = v.numeric {
                        if (op == .mapmin) == (n < c) { out[k] = v; times[k] = t }
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
