/// A filter compiled once into a tree of closures over field slots, for evaluating one audience
/// over many records (the segmenter's hot path).
///
/// Records are arrays indexed by `slots` (a profile store keeps profiles in that shape), so a
/// field read is an array index instead of a hash lookup. Semantics are exactly those of
/// `QLEvaluator` (same operator functions); `INCLUDE`s are inlined at compile time (cycles and
/// depth are checked then).
public struct QLProgram: Sendable {
    /// Field names in slot order.
    public let slots: [String]
    let root: Node

    typealias Node = @Sendable (borrowing Frame) -> QLValue?

    /// A node kept in an array. An array of bare closures holds them at their most general
    /// abstraction, so every read wraps the closure in a freshly allocated thunk; a struct field
    /// keeps it as it is (measured: 7 of the 12 allocations of a mapped event came from that).
    struct Child: Sendable {
        let run: Node
    }

    /// What a compiled node reads: the record's slots and the clocks.
    public struct Frame {
        /// One record in slot order, or (when nil) row `row` of `columns`.
        let values: [QLValue?]?
        let columns: [[QLValue?]]?
        let row: Int
        public let nowMs: Int64
        public let messageTimeMs: Int64?
        /// The whole record, for builtins that read it by prefix (`match`); empty for audience
        /// programs, which carry only the fields they name.
        let fields: [String: QLValue]

        public init(values: [QLValue?], nowMs: Int64, messageTimeMs: Int64? = nil) {
            self.init(values: values, fields: [:], nowMs: nowMs, messageTimeMs: messageTimeMs)
        }

        init(values: [QLValue?], fields: [String: QLValue], nowMs: Int64, messageTimeMs: Int64?) {
            self.values = values
            self.columns = nil
            self.row = 0
            self.nowMs = nowMs
            self.messageTimeMs = messageTimeMs
            self.fields = fields
        }

        init(columns: [[QLValue?]], row: Int, nowMs: Int64) {
            self.values = nil
            self.columns = columns
            self.row = row
            self.nowMs = nowMs
            self.messageTimeMs = nil
            self.fields = [:]
        }

        @inline(__always)
        func value(_ slot: Int) -> QLValue? {
            if let values { return values[slot] }
            return columns![slot][row]
        }
    }

    public enum CompileError: Error, Equatable, CustomStringConvertible {
        case unresolvedInclude(String)
        case includeCycle([String])
        public var description: String {
            switch self {
            case .unresolvedInclude(let n): "INCLUDE \(n): no such filter"
            case .includeCycle(let path): "INCLUDE cycle: \(path.joined(separator: " -> "))"
            }
        }
    }

    public init(_ filter: FilterStatement, includes: @escaping (String) -> FilterStatement? = { _ in nil }) throws(CompileError) {
        var shared: [String] = []
        try self.init(filter, includes: includes, sharing: &shared)
    }

    /// Compiles with its fields placed in `table` (new ones appended): programs that share one
    /// table read one record in that table's order (a record longer than `slots` is fine), so a
    /// set of programs evaluated together looks each field up once, not once per program.
    public init(_ filter: FilterStatement, includes: @escaping (String) -> FilterStatement? = { _ in nil },
                sharing table: inout [String]) throws(CompileError) {
        var builder = Builder(includes: includes)
        builder.slots = table
        root = try builder.compile(filter.body)
        slots = builder.slots
        table = builder.slots
    }

    /// The record for a profile's fields, in slot order.
    public func record(_ fields: [String: QLValue]) -> [QLValue?] {
        slots.map { fields[$0] }
    }

    public func matches(_ values: [QLValue?], nowMs: Int64, messageTimeMs: Int64? = nil) -> Bool {
        root(Frame(values: values, nowMs: nowMs, messageTimeMs: messageTimeMs)) == .bool(true)
    }

    /// Column-major records (one array per slot, each the same length): evaluates every row and
    /// returns the matching row numbers. Scanning a store laid out this way reads each field
    /// sequentially (a full-audience backfill).
    public func matchingRows(columns: [[QLValue?]], nowMs: Int64) -> [Int] {
        precondition(columns.count == slots.count, "one column per slot")
        let rows = columns.first?.count ?? 0
        var out: [Int] = []
        for row in 0..<rows where root(Frame(columns: columns, row: row, nowMs: nowMs)) == .bool(true) { out.append(row) }
        return out
    }

    /// Column-major storage for `profiles`, in slot order.
    public func columns(_ profiles: [[String: QLValue]]) -> [[QLValue?]] {
        slots.map { name in profiles.map { $0[name] } }
    }

    struct Builder {
        let includes: (String) -> FilterStatement?
        var slots: [String] = []
        var stack: [String] = []
        /// Whether a builtin reads the whole record (`match`), not just the slots.
        var readsWholeRecord = false

        mutating func slot(_ name: String) -> Int {
            if let i = slots.firstIndex(of: name) { return i }
            slots.append(name)
            return slots.count - 1
        }

        mutating func compile(_ e: QLExpr) throws(CompileError) -> Node {
            switch e {
            case .literal(let v): return { _ in v }
            case .matchAll: return { _ in .bool(true) }
            case .field(let parts):
                if parts.count > 1 {
                    let s = slot(parts[0])
                    let key = parts[1...].joined(separator: ".")
                    return { f in if case .map(let m)? = f.value(s) { m[key] } else { nil } }
                }
                let name = parts[0]
                let whole = slot(name)
                guard let dot = name.firstIndex(of: ".") else { return { f in f.value(whole) } }
                let head = slot(String(name[..<dot]))
                let key = String(name[name.index(after: dot)...])
                return { f in
                    if let v = f.value(whole) { return v }
                    if case .map(let m)? = f.value(head) { return m[key] }
                    return nil
                }
            case .list(let items):
                let nodes = try items.map { x throws(CompileError) in Child(run: try compile(x)) }
                if items.allSatisfy({ if case .literal(.string) = $0 { true } else { false } }) {
                    let constant = QLValue.strings(items.map { if case .literal(.string(let s)) = $0 { s } else { "" } })
                    return { _ in constant }
                }
                return { f in
                    let values = nodes.map { $0.run(f) }
                    if values.allSatisfy({ if case .string = $0 { true } else { false } }) {
                        return .strings(values.map { if case .string(let s) = $0 { s } else { "" } })
                    }
                    return .list(values.compactMap { $0 })
                }
            case .call("ifcase", let args):
                let branches: [(condition: Child?, value: Child)] = try args.map { arg throws(CompileError) in
                    if case .call("ifcase.when", let pair) = arg { return (Child(run: try compile(pair[1])), Child(run: try compile(pair[0]))) }
                    return (nil, Child(run: try compile(arg)))
                }
                return { f in
                    for branch in branches {
                        guard let condition = branch.condition else { return branch.value.run(f) }
                        if condition.run(f) == .bool(true) { return branch.value.run(f) }
                    }
                    return nil
                }
            case .call(let name, let args):
                guard let builtin = Builtins.table[name] else { return { _ in nil } }
                if name == "match" { readsWholeRecord = true }
                // A function of its arguments alone, called on literals (`set("web")` in the
                // default web mapping): worked out once here, not on every record.
                if Builtins.argumentsOnly.contains(name) {
                    let literals = args.compactMap { if case .literal(let v) = $0 { v } else { nil } }
                    if literals.count == args.count, let constant = builtin.call(literals, QLContext(fields: [:], nowMs: 0)) {
                        return { _ in constant }
                    }
                }
                let nodes = try args.map { x throws(CompileError) in Child(run: try compile(x)) }
                if nodes.count == 1, let call1 = builtin.call1 {
                    let node = nodes[0].run
                    return { f in call1(node(f), QLContext(fields: f.fields, messageTimeMs: f.messageTimeMs, nowMs: f.nowMs)) }
                }
                return { f in
                    let values = nodes.map { $0.run(f) }
                    return builtin.call(values, QLContext(fields: f.fields, messageTimeMs: f.messageTimeMs, nowMs: f.nowMs))
                }
            case .not(let inner):
                if case .include(let name) = inner {
                    let body = try compileInclude(name)
                    return { f in
                        guard case .bool(let b)? = body(f) else { return .bool(true) }
                        return .bool(!b)
                    }
                }
                let node = try compile(inner)
                return { f in
                    guard case .bool(let b)? = node(f) else { return nil }
                    return .bool(!b)
                }
            case .negate(let inner):
                let node = try compile(inner)
                return { f in
                    switch node(f) {
                    case .int(let i)?: return .int(-i)
                    case .number(let d)?: return .number(-d)
                    case let v?: return v.numeric.map { .number(-$0) }
                    case nil: return nil
                    }
                }
            case .and(let children):
                let nodes = try children.map { x throws(CompileError) in Child(run: try compile(x)) }
                return { f in
                    for node in nodes {
                        switch node.run(f) {
                        case .bool(true)?: continue
                        case .bool(false)?: return .bool(false)
                        default: return nil
                        }
                    }
                    return .bool(true)
                }
            case .or(let children):
                let nodes = try children.map { x throws(CompileError) in Child(run: try compile(x)) }
                return { f in
                    for node in nodes where node.run(f) == .bool(true) { return .bool(true) }
                    return .bool(false)
                }
            case .compare(let op, let l, let r):
                let a = try compile(l)
                if let fast = Self.specializedCompare(op, a, r) { return fast }
                let b = try compile(r)
                return { f in Operators.compare(op, a(f), b(f), now: f.nowMs) }
            case .arithmetic(let op, let l, let r):
                let a = try compile(l), b = try compile(r)
                return { f in Operators.arithmetic(op, a(f), b(f)) }
            case .like(let l, let r):
                let a = try compile(l)
                if case .literal(.string(let p)) = r {
                    // The pattern is compiled once.
                    let glob = Glob(String(p.prefix(1000)))
                    return { f in
                        switch a(f) {
                        case nil: return .bool(false)
                        case .string(let s)?: return .bool(glob.matches(s))
                        case .strings(let xs)?: return .bool(xs.contains { glob.matches($0) })
                        case let v?: return Operators.like(v, .string(p))
                        }
                    }
                }
                let b = try compile(r)
                return { f in Operators.like(a(f), b(f)) }
            case .contains(let l, let r):
                let a = try compile(l), b = try compile(r)
                return { f in Operators.contains(a(f), b(f)) }
            case .isIn(let l, let r):
                let a = try compile(l)
                if let set = Self.literalStrings(r) {
                    // A literal list of strings: one hash lookup per value.
                    let list = QLValue.strings(Array(set))
                    return { f in
                        switch a(f) {
                        case nil: return .bool(false)
                        case .string(let s)?: return .bool(set.contains(s))
                        case .strings(let xs)?: return .bool(xs.contains { set.contains($0) })
                        case let v?: return Operators.isIn(v, list, now: f.nowMs)
                        }
                    }
                }
                let b = try compile(r)
                return { f in Operators.isIn(a(f), b(f), now: f.nowMs) }
            case .intersects(let l, let r):
                let a = try compile(l)
                if let set = Self.literalStrings(r) {
                    let list = QLValue.strings(Array(set))
                    return { f in
                        switch a(f) {
                        case nil: return .bool(false)
                        case .strings(let xs)?: return .bool(xs.contains { set.contains($0) })
                        case let v?: return Operators.intersects(v, list, now: f.nowMs)
                        }
                    }
                }
                let b = try compile(r)
                return { f in Operators.intersects(a(f), b(f), now: f.nowMs) }
            case .between(let v, let lo, let hi):
                let a = try compile(v)
                if case .literal(let x) = lo, case .literal(let y) = hi, let low = Self.number(x), let high = Self.number(y) {
                    return { f in
                        switch a(f) {
                        case .int(let i)?: return .bool(low < Double(i) && Double(i) < high)
                        case .number(let d)?: return .bool(low < d && d < high)
                        case let other: return Operators.between(other, x, y, now: f.nowMs)
                        }
                    }
                }
                let b = try compile(lo), c = try compile(hi)
                return { f in Operators.between(a(f), b(f), c(f), now: f.nowMs) }
            case .exists(let inner):
                let node = try compile(inner)
                return { f in .bool(node(f) != nil) }
            case .include(let name):
                return try compileInclude(name)
            }
        }

        static func number(_ v: QLValue) -> Double? {
            switch v {
            case .int(let i): Double(i)
            case .number(let d): d
            default: nil
            }
        }

        static func literalStrings(_ e: QLExpr) -> Set<String>? {
            guard case .list(let items) = e, !items.isEmpty else { return nil }
            var out = Set<String>()
            for item in items {
                guard case .literal(.string(let s)) = item else { return nil }
                out.insert(s)
            }
            return out
        }

        /// Comparisons against a literal, specialised for the common value types; anything else
        /// takes the general path (same semantics).
        static func specializedCompare(_ op: QLExpr.CompareOp, _ a: @escaping Node, _ r: QLExpr) -> Node? {
            guard case .literal(let lit) = r else { return nil }
            if case .string(let text) = lit, let math = DateMath.parse(text), op != .eq, op != .ne {
                // A relative date: only the anchor moves; the string is parsed once.
                return { f in
                    let bound = DateMath.apply(f.nowMs, unit: math.unit, amount: math.amount)
                    switch a(f) {
                    case nil: return .bool(false)
                    case .time(let t)?: return .bool(Operators.holds(op, Double(t), Double(bound)))
                    case let v?: return Operators.order(op, v, .time(bound), now: f.nowMs)
                    }
                }
            }
            switch (op, lit) {
            case (.eq, .string(let text)):
                return { f in
                    switch a(f) {
                    case nil: return .bool(false)
                    case .string(let s)?: return .bool(s == text)
                    case let v?: return Operators.equal(v, lit, now: f.nowMs).map(QLValue.bool)
                    }
                }
            case (.gt, _), (.ge, _), (.lt, _), (.le, _):
                guard let bound = number(lit) else { return nil }
                return { f in
                    switch a(f) {
                    case nil: return .bool(false)
                    case .int(let i)?: return .bool(Operators.holds(op, Double(i), bound))
                    case .number(let d)?: return .bool(Operators.holds(op, d, bound))
                    case let v?: return Operators.order(op, v, lit, now: f.nowMs)
                    }
                }
            default:
                return nil
            }
        }

        mutating func compileInclude(_ name: String) throws(CompileError) -> Node {
            if stack.contains(name) { throw .includeCycle(stack + [name]) }
            guard stack.count < QLEvaluator.maxIncludeDepth, let filter = includes(name) else { throw .unresolvedInclude(name) }
            stack.append(name)
            defer { stack.removeLast() }
            return try compile(filter.body)
        }
    }
}
