/// A profile's fields: name → state.
public typealias FieldTable = SortedTable<FieldState>

/// A profile's identifiers: identity field → values held.
public typealias IdentityTable = SortedTable<[Profile.Held]>

/// A field's per-member or per-key event times.
public typealias KeyTimes = SortedTable<Int64>

/// A small name → value table kept in one array sorted by name. A profile holds a handful of
/// fields and identity keys; a hash table for them cost several times their size (memory per
/// profile bounds how many profiles a resolver holds), one more allocation each time a profile
/// is decoded, and a hash of the name on every access.
public struct SortedTable<Value: Sendable & Equatable>: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    struct Entry: Sendable, Equatable {
        var name: String
        var value: Value
    }
    private var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, Value)...) {
        for (name, value) in elements { self[name] = value }
    }

    /// One entry.
    init(_ name: String, _ value: Value) {
        entries = [Entry(name: name, value: value)]
    }

    /// The entries of a dictionary.
    public init(_ dictionary: [String: Value]) {
        entries = dictionary.map { Entry(name: $0.key, value: $0.value) }.sorted { $0.name < $1.name }
    }

    /// The keys of `names` (each once), all with `value`.
    init<S: Sequence<String>>(names: S, value: Value) {
        var sorted = Array(names)
        sorted.sort()
        entries.reserveCapacity(sorted.count)
        for name in sorted where entries.last?.name != name { entries.append(Entry(name: name, value: value)) }
    }

    /// Both tables' entries; `combine` decides for names in both.
    func merging(_ other: SortedTable, uniquingKeysWith combine: (Value, Value) -> Value) -> SortedTable {
        var out = self
        for e in other.entries { out[e.name] = out[e.name].map { combine($0, e.value) } ?? e.value }
        return out
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The names, in order.
    public var keys: [String] { entries.map(\.name) }
    /// The values, in name order.
    public var values: [Value] { entries.map(\.value) }

    /// The position of `name`, if present.
    public func index(forKey name: String) -> Int? {
        let i = insertionPoint(name)
        return i < entries.count && entries[i].name == name ? i : nil
    }

    /// The value at a position (changed in place through `_modify`).
    public subscript(at i: Int) -> Value {
        get { entries[i].value }
        _modify { yield &entries[i].value }
    }

    /// The name at a position.
    public func name(at i: Int) -> String { entries[i].name }

    public subscript(name: String) -> Value? {
        get { index(forKey: name).map { entries[$0].value } }
        set {
            let i = insertionPoint(name)
            let present = i < entries.count && entries[i].name == name
            switch (present, newValue) {
            case (true, let value?): entries[i].value = value
            case (true, nil): entries.remove(at: i)
            case (false, let value?): entries.insert(Entry(name: name, value: value), at: i)
            case (false, nil): break
            }
        }
        _modify {
            // The value is moved out while it is changed (no second reference, so no copy), then
            // put back unless it became nil.
            let i = insertionPoint(name)
            var value = i < entries.count && entries[i].name == name ? entries.remove(at: i).value : nil
            defer { if let v = value { entries.insert(Entry(name: name, value: v), at: i) } }
            yield &value
        }
    }

    /// Appends an entry whose name is ordered after every name present (decoding a table written
    /// in order); anything else goes through the subscript.
    mutating func appendInOrder(_ name: String, _ value: consuming Value) {
        if let last = entries.last, !(last.name < name) { self[name] = value; return }
        entries.append(Entry(name: name, value: value))
    }

    mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    mutating func removeAll(keepingCapacity keep: Bool) { entries.removeAll(keepingCapacity: keep) }

    /// Replaces the entries with `count` new ones (decoding a table written in order, into the
    /// storage of an old one): `fill` overwrites a value — the old one at that position, or
    /// `blank` past the old entries — and returns its name. False if the names did not come in
    /// strictly increasing order (the table is then not usable).
    mutating func refill(count n: Int, blank: @autoclosure () -> Value, _ fill: (inout Value) -> String) -> Bool {
        if entries.count > n { entries.removeSubrange(n...) }
        entries.reserveCapacity(n)
        var ordered = true
        for i in 0..<n {
            if i == entries.count { entries.append(Entry(name: "", value: blank())) }
            let name = fill(&entries[i].value)
            if i > 0, !(entries[i - 1].name < name) { ordered = false }
            entries[i].name = name
        }
        return ordered
    }

    /// Reads the entries where they are, in order: iterating the table hands out each name and
    /// value as a copy (a retain and a release of everything they hold), which writing a
    /// profile out does for every entry of every table.
    func withEntries<R>(_ body: (UnsafeBufferPointer<Entry>) -> R) -> R {
        entries.withUnsafeBufferPointer(body)
    }

    /// The values by name.
    public func mapValues<T>(_ transform: (Value) throws -> T) rethrows -> [String: T] {
        var out: [String: T] = [:]
        out.reserveCapacity(entries.count)
        for e in entries { out[e.name] = try transform(e.value) }
        return out
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: Value)> {
        entries.lazy.map { (key: $0.name, value: $0.value) }.makeIterator()
    }

    /// The first position whose name is not ordered before `name` (binary search).
    private func insertionPoint(_ name: String) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
