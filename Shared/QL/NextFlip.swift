import Runtime

/// The earliest future instant at which a filter's result could change through the passage of
/// time alone (relative dates like `last_visit > "now-3d"`), so a segmenter can re-evaluate a
/// profile exactly then instead of rescanning everyone. nil when time alone never changes it.
public enum NextFlip {
    public static func compute(_ filter: FilterStatement, _ context: QLContext) -> Int64? {
        Plan(filter).compute(context)
    }

    public static func compute(_ expr: QLExpr, _ context: QLContext) -> Int64? {
        Plan(expr).compute(context)
    }

    /// The search for one filter, prepared once: its comparisons with relative dates (inside
    /// AND, OR and NOT) with the dates already parsed — parsing them on every evaluation took a
    /// tenth of the segmenter's time per profile change — and its INCLUDEs, followed through the
    /// context when computed.
    public struct Plan: Sendable {
        enum Step: Sendable {
            /// `times op (now + math)`.
            case compare(QLExpr.CompareOp, times: QLExpr, math: (unit: Character, amount: Int64))
            case between(times: QLExpr, low: (unit: Character, amount: Int64)?, high: (unit: Character, amount: Int64)?)
            /// Resolved through the context's includes when computed.
            case include(String)
        }
        let steps: [Step]

        public init(_ filter: FilterStatement) {
            self.init(filter.body)
        }

        public init(_ expr: QLExpr) {
            var steps: [Step] = []
            Self.collect(expr, into: &steps)
            self.steps = steps
        }

        /// Whether time alone may change the filter's result (it compares something with a
        /// relative date, or INCLUDEs a filter that may); when false, `compute` is always nil.
        public var dependsOnTime: Bool { !steps.isEmpty }

        static func collect(_ e: QLExpr, into steps: inout [Step]) {
            switch e {
            case .compare(let op, let l, let r):
                if let math = dateMath(r) {
                    steps.append(.compare(op, times: l, math: math))
                } else if let math = dateMath(l) {
                    steps.append(.compare(mirrored(op), times: r, math: math))
                }
            case .between(let v, let lo, let hi):
                let low = dateMath(lo), high = dateMath(hi)
                if low != nil || high != nil { steps.append(.between(times: v, low: low, high: high)) }
            case .and(let children), .or(let children):
                for c in children { collect(c, into: &steps) }
            case .not(let inner):
                collect(inner, into: &steps)
            case .include(let name):
                steps.append(.include(name))
            default:
                break
            }
        }

        /// The earliest instant after `context.nowMs` at which time alone could change the
        /// filter's result, or nil.
        public func compute(_ context: QLContext) -> Int64? {
            var stack: [String] = []
            return earliest(context, &stack)
        }

        func earliest(_ context: QLContext, _ stack: inout [String]) -> Int64? {
            var best: Int64?
            func consider(_ candidates: [Int64]) {
                for c in candidates where c > context.nowMs { best = min(best ?? c, c) }
            }
            for step in steps {
                switch step {
                case .compare(let op, let e, let math):
                    consider(boundary(op, times(e, context), math))
                case .between(let e, let low, let high):
                    let ts = times(e, context)
                    if let low { consider(boundary(.gt, ts, low)) }   // lo < T
                    if let high { consider(boundary(.lt, ts, high)) } // T < hi
                case .include(let name):
                    guard !stack.contains(name), stack.count < QLEvaluator.maxIncludeDepth, let f = context.includes(name) else { continue }
                    stack.append(name)
                    if let t = Plan(f).earliest(context, &stack) { consider([t]) }
                    stack.removeLast()
                }
            }
            return best
        }
    }

    static func dateMath(_ e: QLExpr) -> (unit: Character, amount: Int64)? {
        if case .literal(.string(let s)) = e { return DateMath.parse(s) }
        return nil
    }

    /// Times of the value an expression yields (a time, or a list of times).
    static func times(_ e: QLExpr, _ context: QLContext) -> [Int64] {
        switch QLEvaluator.evaluate(e, context) {
        case .time(let t)?: return [t]
        case .list(let items)?: return items.compactMap { if case .time(let t) = $0 { t } else { nil } }
        default: return []
        }
    }

    /// The instant where `T op (now + D)` changes, for each time T.
    static func boundary(_ op: QLExpr.CompareOp, _ ts: [Int64], _ math: (unit: Character, amount: Int64)) -> [Int64] {
        ts.map { t in
            let pivot = DateMath.apply(t, unit: math.unit, amount: -math.amount)
            switch op {
            case .gt, .le: return pivot
            case .ge, .lt: return pivot.clampedAdding(1)
            case .eq, .ne: return Int64.min
            }
        }
    }

    static func mirrored(_ op: QLExpr.CompareOp) -> QLExpr.CompareOp {
        switch op {
        case .gt: .lt
        case .ge: .le
        case .lt: .gt
        case .le: .ge
        default: op
        }
    }
}
