import Synchronization

/// A shareable atomic integer (an `Atomic` lives inside a class so closures can capture it).
public final class AtomicInt: Sendable {
    private let value: Atomic<Int>
    public init(_ initial: Int = 0) { value = Atomic(initial) }
    public func load() -> Int { value.load(ordering: .relaxed) }
    public func store(_ v: Int) { value.store(v, ordering: .relaxed) }
    /// Adds and returns the value before the addition.
    @discardableResult public func add(_ delta: Int) -> Int { value.add(delta, ordering: .relaxed).oldValue }
    @discardableResult public func subtract(_ delta: Int) -> Int { value.subtract(delta, ordering: .relaxed).oldValue }
}

/// A shareable atomic flag.
public final class AtomicFlag: Sendable {
    private let value: Atomic<Bool>
    public init(_ initial: Bool = false) { value = Atomic(initial) }
    public func load() -> Bool { value.load(ordering: .relaxed) }
    public func store(_ v: Bool) { value.store(v, ordering: .relaxed) }
    /// Sets the flag and returns its previous value.
    public func exchange(_ v: Bool) -> Bool { value.exchange(v, ordering: .relaxed) }
}
