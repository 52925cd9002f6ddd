/// A profile's fields: name → state, kept in one array sorted by name. A profile holds a handful
/// of fields, and a hash table for them cost several times their size (memory per profile is
/// what bounds how many profiles a resolver holds).
public struct FieldTable: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    struct Entry: Sendable, Equatable {
        var name: String
        var state: FieldState
    }
    private var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, FieldState)...) {
        for (name, state) in elements { self[name] = state }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The names, in order.
    public var keys: [String] { entries.map(\.name) }

    /// The position of `name`, if the profile has the field.
    public func index(forKey name: String) -> Int? {
        let i = insertionPoint(name)
        return i < entries.count && entries[i].name == name ? i : nil
    }

    /// The state at a position (changed in place through `_modify`).
    public subscript(at i: Int) -> FieldState {
        get { entries[i].state }
        _modify { yield &entries[i].state }
    }

    /// The name at a position.
    public func name(at i: Int) -> String { entries[i].name }

    public subscript(name: String) -> FieldState? {
        get { index(forKey: name).map { entries[$0].state } }
        set {
            let i = insertionPoint(name)
            let present = i < entries.count && entries[i].name == name
            switch (present, newValue) {
            case (true, let state?): entries[i].state = state
            case (true, nil): entries.remove(at: i)
            case (false, let state?): entries.insert(Entry(name: name, state: state), at: i)
            case (false, nil): break
            }
        }
    }

    /// Appends a field whose name is ordered after every name present (decoding a table written
    /// in order); anything else goes through the subscript.
    mutating func appendInOrder(_ name: String, _ state: consuming FieldState) {
        if let last = entries.last, !(last.name < name) { self[name] = state; return }
        entries.append(Entry(name: name, state: state))
    }

    mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// The states by name.
    public func mapValues<T>(_ transform: (FieldState) throws -> T) rethrows -> [String: T] {
        var out: [String: T] = [:]
        out.reserveCapacity(entries.count)
        for e in entries { out[e.name] = try transform(e.state) }
        return out
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: FieldState)> {
        entries.lazy.map { (key: $0.name, value: $0.state) }.makeIterator()
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
