/// The record an expression is evaluated over, and the clocks.
public struct QLContext: Sendable {
    public var fields: [String: QLValue]
    /// The record's own timestamp (drives `now()`); nil if it has none.
    public var messageTimeMs: Int64?
    /// The wall clock for date math (`"now-3d"`), injected.
    public var nowMs: Int64
    /// Resolves `INCLUDE name` (lower-cased) to a filter.
    public var includes: @Sendable (String) -> FilterStatement?

    public init(fields: [String: QLValue], messageTimeMs: Int64? = nil, nowMs: Int64,
                includes: @escaping @Sendable (String) -> FilterStatement? = { _ in nil }) {
        self.fields = fields
        self.messageTimeMs = messageTimeMs
        self.nowMs = nowMs
        self.includes = includes
    }
}

/// Evaluates expressions with the (value, ok) model: `nil` means "could not be evaluated"
/// (a missing field, a type mismatch); parents decide what that means.
public struct QLEvaluator {
    public static let maxIncludeDepth = 64

    let context: QLContext
    var includeStack: [String] = []

    public init(_ context: QLContext) {
        self.context = context
    }

    /// Whether the filter matches: its body evaluates to `true`.
    public static func matches(_ filter: FilterStatement, _ context: QLContext) -> Bool {
        var e = QLEvaluator(context)
        return e.eval(filter.body) == .bool(true)
    }

    /// The value of a bare expression (nil = not ok).
    public static func evaluate(_ expr: QLExpr, _ context: QLContext) -> QLValue? {
        var e = QLEvaluator(context)
        return e.eval(expr)
    }

    /// The columns a `SELECT` writes for the record, or nil when its filter does not match.
    public static func select(_ statement: SelectStatement, _ context: QLContext) -> [String: QLValue]? {
        var e = QLEvaluator(context)
        if let filter = statement.filter, e.eval(filter) != .bool(true) { return nil }
        var row: [String: QLValue] = [:]
        for column in statement.columns {
            if let g = column.guardExpr, e.eval(g) != .bool(true) { continue }
            if let v = e.eval(column.expr) { row[column.name] = v }
        }
        return row
    }

    mutating func eval(_ expr: QLExpr) -> QLValue? {
        switch expr {
        case .literal(let v): return v
        case .matchAll: return .bool(true)
        case .field(let parts): return lookup(parts)
        case .list(let items):
            let values = items.map { eval($0) }
            if values.allSatisfy({ if case .string = $0 { true } else { false } }) {
                return .strings(values.map { if case .string(let s) = $0 { s } else { "" } })
            }
            return .list(values.compactMap { $0 })
        case .call("ifcase", let args):
            // The first branch whose condition is true, else the plain (default) argument.
            for arg in args {
                if case .call("ifcase.when", let pair) = arg {
                    if eval(pair[1]) == .bool(true) { return eval(pair[0]) }
                } else {
                    return eval(arg)
                }
            }
            return nil
        case .call(let name, let args):
            guard let builtin = Builtins.table[name] else { return nil }
            return builtin.call(args.map { eval($0) }, context)
        case .not(let inner):
            if case .include(let name) = inner {
                // The asymmetry of the reference: NOT INCLUDE of a body that failed is true.
                guard let result = include(name) else { return includeResolvable(name) ? .bool(true) : nil }
                guard case .bool(let b) = result else { return .bool(true) }
                return .bool(!b)
            }
            guard case .bool(let b)? = eval(inner) else { return nil }
            return .bool(!b)
        case .negate(let inner):
            switch eval(inner) {
            case .int(let i)?: return .int(-i)
            case .number(let d)?: return .number(-d)
            case let v?: return v.numeric.map { .number(-$0) }
            case nil: return nil
            }
        case .and(let children):
            for child in children {
                switch eval(child) {
                case .bool(true)?: continue
                case .bool(false)?: return .bool(false)
                default: return nil
                }
            }
            return .bool(true)
        case .or(let children):
            for child in children where eval(child) == .bool(true) { return .bool(true) }
            return .bool(false)
        case .compare(let op, let l, let r): return Operators.compare(op, eval(l), eval(r), now: context.nowMs)
        case .arithmetic(let op, let l, let r): return Operators.arithmetic(op, eval(l), eval(r))
        case .like(let l, let r): return Operators.like(eval(l), eval(r))
        case .contains(let l, let r): return Operators.contains(eval(l), eval(r))
        case .isIn(let l, let r): return Operators.isIn(eval(l), eval(r), now: context.nowMs)
        case .intersects(let l, let r): return Operators.intersects(eval(l), eval(r), now: context.nowMs)
        case .between(let v, let lo, let hi): return Operators.between(eval(v), eval(lo), eval(hi), now: context.nowMs)
        case .exists(let inner): return .bool(eval(inner) != nil)
        case .include(let name): return include(name)
        }
    }

    func includeResolvable(_ name: String) -> Bool {
        !includeStack.contains(name) && includeStack.count < Self.maxIncludeDepth && context.includes(name) != nil
    }

    /// Evaluates the named filter's body (nil when unresolvable, cyclic or too deep).
    mutating func include(_ name: String) -> QLValue? {
        guard !includeStack.contains(name), includeStack.count < Self.maxIncludeDepth, let filter = context.includes(name) else { return nil }
        includeStack.append(name)
        defer { includeStack.removeLast() }
        return eval(filter.body)
    }

    /// `a.b`: the literal key first, then map `a` at key `b` (split at the first dot).
    func lookup(_ parts: [String]) -> QLValue? {
        if parts.count == 1 {
            let name = parts[0]
            if let v = context.fields[name] { return v }
            guard let dot = name.firstIndex(of: ".") else { return nil }
            let head = String(name[..<dot])
            let rest = String(name[name.index(after: dot)...])
            guard case .map(let m)? = context.fields[head] else { return nil }
            return m[rest]
        }
        guard case .map(let m)? = context.fields[parts[0]] else { return nil }
        return m[parts[1...].joined(separator: ".")]
    }
}
