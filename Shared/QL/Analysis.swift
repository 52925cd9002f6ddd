/// Static facts about an expression, for validation (unknown fields, Lytics's limit of 1,000
/// field values per audience).
public enum QLAnalysis {
    /// Fields the expression reads (top-level names; `a.b` counts as `a`), in first-use order.
    public static func fields(_ e: QLExpr) -> [String] {
        var out: [String] = []
        walk(e) { node in
            if case .field(let parts) = node {
                let head = parts.count > 1 ? parts[0] : String(parts[0].split(separator: ".").first ?? "")
                if !out.contains(head) { out.append(head) }
            }
        }
        return out
    }

    /// INCLUDE names used (lower-case).
    public static func includes(_ e: QLExpr) -> [String] {
        var out: [String] = []
        walk(e) { if case .include(let n) = $0, !out.contains(n) { out.append(n) } }
        return out
    }

    /// The number of literal values compared against fields (each member of an IN list counts).
    public static func fieldValueCount(_ e: QLExpr) -> Int {
        var count = 0
        walk(e) { node in
            switch node {
            case .compare(_, let l, let r), .like(let l, let r), .contains(let l, let r), .isIn(let l, let r), .intersects(let l, let r):
                count += literals(l) + literals(r)
            case .between(_, let lo, let hi):
                count += literals(lo) + literals(hi)
            default: break
            }
        }
        return count
    }

    static func literals(_ e: QLExpr) -> Int {
        switch e {
        case .literal: 1
        case .list(let items): items.reduce(0) { $0 + literals($1) }
        default: 0
        }
    }

    /// Visits every node.
    public static func walk(_ e: QLExpr, _ visit: (QLExpr) -> Void) {
        visit(e)
        switch e {
        case .call(_, let args): args.forEach { walk($0, visit) }
        case .list(let items), .and(let items), .or(let items): items.forEach { walk($0, visit) }
        case .not(let x), .negate(let x), .exists(let x): walk(x, visit)
        case .compare(_, let l, let r), .arithmetic(_, let l, let r), .like(let l, let r), .contains(let l, let r),
             .isIn(let l, let r), .intersects(let l, let r):
            walk(l, visit)
            walk(r, visit)
        case .between(let a, let b, let c):
            walk(a, visit)
            walk(b, visit)
            walk(c, visit)
        case .literal, .field, .include, .matchAll: break
        }
    }
}
