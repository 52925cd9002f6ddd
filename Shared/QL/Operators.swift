/// Operator semantics, including the missing-field rules (a nil operand is a missing field or a
/// failed expression).
enum Operators {
    /// Equality with the left value's type driving coercion; nil = fails.
    static func equal(_ l: QLValue, _ r: QLValue, now: Int64) -> Bool? {
        switch (l, r) {
        case (.string(let a), .null): return a.isEmpty
        case (_, .null), (.null, _): return nil
        case (.string(let a), .string(let b)): return a == b
        case (.string(let a), .int), (.string(let a), .number):
            guard let x = QLValue.parseNumber(a), let y = r.numeric else { return false }
            return x == y
        case (.string(let a), .bool(let b)): return QLValue.parseBool(a).map { $0 == b } ?? false
        case (.string(let a), .time(let t)):
            guard let x = DateMath.parseDate(a) else { return false }
            return x / 1000 == t / 1000
        case (.int, .int), (.int, .number), (.number, .int), (.number, .number), (.int, .string), (.number, .string):
            guard let x = l.numeric, let y = r.numeric else { return false }
            return x == y
        case (.number, .strings), (.number, .list):
            // A number against a list: true if any element equals it.
            return r.elements!.contains { equal(l, $0, now: now) == true }
        case (.int, .strings), (.int, .list): return nil
        case (.bool(let a), .bool(let b)): return a == b
        case (.bool, _): return nil
        case (.time(let t), _):
            guard let u = DateMath.time(r, now: now) else { return nil }
            return t / 1000 == u / 1000
        case (.strings(let a), .string(let b)): return a.count == 1 && a[0] == b
        case (.strings(let a), .strings(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.map(let a), .map(let b)): return a == b
        default: return false
        }
    }

    static func compare(_ op: QLExpr.CompareOp, _ l: QLValue?, _ r: QLValue?, now: Int64) -> QLValue? {
        switch op {
        case .eq:
            guard let l, let r else { return .bool(false) }
            return equal(l, r, now: now).map(QLValue.bool)
        case .ne:
            switch (l, r) {
            case (nil, nil): return .bool(false)
            case (nil, _), (_, nil): return .bool(true)
            case (let a?, let b?):
                if case .null = b, case .string = a { return .bool(!(equal(a, b, now: now) ?? false)) }
                return equal(a, b, now: now).map { .bool(!$0) }
            }
        case .gt, .ge, .lt, .le:
            guard let l, let r else { return .bool(false) }
            return order(op, l, r, now: now)
        }
    }

    static func holds(_ op: QLExpr.CompareOp, _ x: Double, _ y: Double) -> Bool {
        switch op {
        case .gt: x > y
        case .ge: x >= y
        case .lt: x < y
        case .le: x <= y
        default: false
        }
    }

    /// Ordering: numbers (and numeric strings) and times only.
    static func order(_ op: QLExpr.CompareOp, _ l: QLValue, _ r: QLValue, now: Int64) -> QLValue? {
        switch l {
        case .time(let t):
            guard let u = DateMath.time(r, now: now) else { return nil }
            return .bool(holds(op, Double(t), Double(u)))
        case .list(let items) where items.allSatisfy({ if case .time = $0 { true } else { false } }):
            if items.isEmpty { return .bool(false) }
            return .bool(items.contains { order(op, $0, r, now: now) == .bool(true) })
        case .int, .number:
            if case .time(let u) = r {
                guard let t = DateMath.time(l, now: now) else { return nil }
                return .bool(holds(op, Double(t), Double(u)))
            }
            guard let x = l.numeric, let y = r.numeric else { return nil }
            return .bool(holds(op, x, y))
        case .string(let s):
            if case .string = r { 
                // String against string ordering is not supported, unless both are numbers.
                guard let x = QLValue.parseNumber(s), let y = r.numeric else { return nil }
                return .bool(holds(op, x, y))
            }
            if case .time(let u) = r, let t = DateMath.parseDate(s) { return .bool(holds(op, Double(t), Double(u))) }
            guard let x = QLValue.parseNumber(s), let y = r.numeric else { return nil }
            return .bool(holds(op, x, y))
        default:
            return nil
        }
    }

    static func arithmetic(_ op: QLExpr.ArithmeticOp, _ l: QLValue?, _ r: QLValue?) -> QLValue? {
        guard let l, let r else { return nil }
        if case .int(let a) = l, case .int(let b) = r {
            switch op {
            case .add: return .int(a &+ b)
            case .sub: return .int(a &- b)
            case .mul: return .int(a &* b)
            case .div: return b == 0 ? nil : .int(a.dividedReportingOverflow(by: b).partialValue) // Int64.min / -1 wraps, as + and * do
            case .mod: return b == 0 ? nil : .int(a.remainderReportingOverflow(dividingBy: b).partialValue)
            }
        }
        if case .string(let a) = l, case .string(let b) = r, op == .add { return .string(a + b) }
        guard let x = l.numeric, let y = r.numeric else { return nil }
        switch op {
        case .add: return .number(x + y)
        case .sub: return .number(x - y)
        case .mul: return .number(x * y)
        case .div: return y == 0 ? nil : .number(x / y)
        case .mod: return y == 0 ? nil : .number(x.truncatingRemainder(dividingBy: y))
        }
    }

    static func like(_ l: QLValue?, _ r: QLValue?) -> QLValue? {
        guard let l else { return .bool(false) }
        guard let r else { return nil }
        let patterns: [String]
        switch r {
        case .string(let p): patterns = [p]
        case .strings(let ps): patterns = ps
        default: return nil
        }
        let globs = patterns.prefix(1000).map { Glob(String($0.prefix(1000))) }
        let subjects: [String]
        switch l {
        case .string(let s): subjects = [s]
        case .strings(let a): subjects = a
        case .list(let a): subjects = a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: return .bool(false)
        }
        return .bool(subjects.contains { s in globs.contains { $0.matches(s) } })
    }

    static func contains(_ l: QLValue?, _ r: QLValue?) -> QLValue? {
        guard let l else { return .bool(false) }
        guard let r else { return nil }
        switch l {
        case .string(let s):
            if let items = r.elements { return .bool(items.contains { !$0.stringForm.isEmpty && s.contains($0.stringForm) }) }
            let needle = r.stringForm
            return .bool(!needle.isEmpty && s.contains(needle))
        case .strings(let a):
            let needle = r.stringForm
            return .bool(a.contains { $0.contains(needle) })
        case .list(let a):
            if case .int = r { return .bool(a.contains(r)) }
            let needle = r.stringForm
            return .bool(a.contains { $0.stringForm.contains(needle) })
        case .map(let m): return .bool(m[r.stringForm] != nil)
        default: return nil
        }
    }

    /// Members of the right side of IN / INTERSECTS.
    static func members(_ r: QLValue) -> [QLValue] {
        switch r {
        case .strings, .list: r.elements!
        case .map(let m): m.keys.sorted().map(QLValue.string)
        default: [r]
        }
    }

    static func isIn(_ l: QLValue?, _ r: QLValue?, now: Int64) -> QLValue? {
        guard let l else { return .bool(false) }
        guard let r else { return .bool(false) }
        switch l {
        case .strings, .list: return intersects(l, r, now: now)
        case .map(let m): return .bool(members(r).contains { m[$0.stringForm] != nil })
        default:
            if case .map(let m) = r { return .bool(m[l.stringForm] != nil) }
            return .bool(members(r).contains { equal(l, $0, now: now) == true })
        }
    }

    static func intersects(_ l: QLValue?, _ r: QLValue?, now: Int64) -> QLValue? {
        guard let l, let r else { return .bool(false) }
        let left: [QLValue]
        switch l {
        case .strings, .list: left = l.elements!
        case .map(let m): left = m.keys.map(QLValue.string)
        default: return nil
        }
        let right = members(r)
        return .bool(left.contains { a in right.contains { equal(a, $0, now: now) == true } })
    }

    /// Exclusive on both ends; the value must be a number or a time.
    static func between(_ v: QLValue?, _ lo: QLValue?, _ hi: QLValue?, now: Int64) -> QLValue? {
        guard let v, let lo, let hi else { return nil }
        switch v {
        case .time(let t):
            guard let a = DateMath.time(lo, now: now), let b = DateMath.time(hi, now: now) else { return nil }
            return .bool(a < t && t < b)
        case .int, .number:
            guard let x = v.numeric, let a = lo.numeric, let b = hi.numeric else { return nil }
            return .bool(a < x && x < b)
        default: return nil
        }
    }
}
