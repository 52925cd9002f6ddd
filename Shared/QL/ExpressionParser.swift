extension QLParser {
    /// Binding powers: OR 1, AND 2, NOT 3, comparisons 4, + - 5, * / % 6.
    mutating func expression(_ minPower: Int, inBlock: Bool = false) throws(QLError) -> QLExpr {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("expression nested deeper than \(Self.maxDepth) levels") }
        var left = try prefix(inBlock: inBlock)
        while true {
            let t = peek
            // In an AND/OR block a NOT, AND or OR on a new line starts the next child.
            if inBlock, t.position.line > previousLine, let k = t.keyword, k == "NOT" || k == "AND" || k == "OR" { return left }
            guard let (power, build) = try infix(minPower) else { return left }
            if power <= minPower { return left }
            left = try build(&self, left)
        }
    }

    typealias Infix = (inout QLParser, QLExpr) throws(QLError) -> QLExpr

    /// The operator at the current token, if any, with its power and how to finish it.
    mutating func infix(_ minPower: Int) throws(QLError) -> (Int, Infix)? {
        let t = peek
        switch t.kind {
        case .op(let o):
            switch o {
            case "||": return (1, { p, l throws(QLError) in p.index += 1; return .or([l, try p.expression(1)]) })
            case "&&": return (2, { p, l throws(QLError) in p.index += 1; return .and([l, try p.expression(2)]) })
            case "==", "=": return (4, Self.comparison(.eq))
            case "!=", "<>": return (4, Self.comparison(.ne))
            case ">": return (4, Self.comparison(.gt))
            case ">=": return (4, Self.comparison(.ge))
            case "<": return (4, Self.comparison(.lt))
            case "<=": return (4, Self.comparison(.le))
            case "+": return (5, Self.arithmetic(.add, 5))
            case "-": return (5, Self.arithmetic(.sub, 5))
            case "*": return (6, Self.arithmetic(.mul, 6))
            case "/": return (6, Self.arithmetic(.div, 6))
            case "%": return (6, Self.arithmetic(.mod, 6))
            default: return nil
            }
        case .identifier:
            switch t.keyword {
            case "OR": return (1, { p, l throws(QLError) in p.index += 1; return .or([l, try p.expression(1)]) })
            case "AND": return (2, { p, l throws(QLError) in p.index += 1; return .and([l, try p.expression(2)]) })
            case "IS":
                return (4, { p, l throws(QLError) in
                    p.index += 1
                    let negated = p.accept("NOT")
                    return .compare(negated ? .ne : .eq, l, try p.expression(4))
                })
            case "NOT":
                // Postfix negations: x NOT IN / LIKE / CONTAINS / INTERSECTS / BETWEEN.
                guard let next = peek(1).keyword, ["IN", "LIKE", "CONTAINS", "INTERSECTS", "BETWEEN"].contains(next) else { return nil }
                return (4, { p, l throws(QLError) in
                    p.index += 1
                    return .not(try p.membership(l))
                })
            case "IN", "LIKE", "CONTAINS", "INTERSECTS", "BETWEEN":
                return (4, { p, l throws(QLError) in try p.membership(l) })
            default: return nil
            }
        default: return nil
        }
    }

    static func comparison(_ op: QLExpr.CompareOp) -> Infix {
        { p, l throws(QLError) in
            p.index += 1
            return .compare(op, l, try p.expression(4))
        }
    }

    static func arithmetic(_ op: QLExpr.ArithmeticOp, _ power: Int) -> Infix {
        { p, l throws(QLError) in
            p.index += 1
            return .arithmetic(op, l, try p.expression(power))
        }
    }

    /// IN / LIKE / CONTAINS / INTERSECTS / BETWEEN after the left operand.
    mutating func membership(_ left: QLExpr) throws(QLError) -> QLExpr {
        let word = peek.keyword!
        index += 1
        switch word {
        case "LIKE": return .like(left, try expression(4))
        case "CONTAINS": return .contains(left, try expression(4))
        case "IN": return .isIn(left, try setOperand())
        case "INTERSECTS": return .intersects(left, try setOperand())
        default: // BETWEEN a AND b
            let low = try expression(4)
            try expect("AND")
            return .between(left, low, try expression(4))
        }
    }

    /// `( a, b, ... )`, `[ ... ]`, or one operand (a field, call or string).
    mutating func setOperand() throws(QLError) -> QLExpr {
        if case .lparen = peek.kind {
            index += 1
            var items: [QLExpr] = []
            if case .rparen = peek.kind {
                index += 1
                return .list(items)
            }
            repeat {
                if case .rparen = peek.kind { break } // trailing comma
                items.append(try expression(0))
                guard items.count <= 10_000 else { throw error("list longer than 10,000 items") }
            } while acceptComma()
            try expectKind(.rparen, "',' or ')' in the list")
            return .list(items)
        }
        return try expression(4)
    }

    mutating func prefix(inBlock: Bool) throws(QLError) -> QLExpr {
        let t = peek
        switch t.kind {
        case .string(let s):
            index += 1
            return .literal(.string(s))
        case .int(let i):
            index += 1
            return .literal(.int(i))
        case .number(let d):
            index += 1
            return .literal(.number(d))
        case .lparen:
            index += 1
            let inner = try expression(0)
            if acceptComma() {
                // A parenthesised list used as a value.
                var items = [inner]
                repeat {
                    if case .rparen = peek.kind { break }
                    items.append(try expression(0))
                } while acceptComma()
                try expectKind(.rparen, "')'")
                return .list(items)
            }
            try expectKind(.rparen, "')'")
            return inner
        case .lbracket:
            index += 1
            var items: [QLExpr] = []
            while true {
                if case .rbracket = peek.kind { break }
                items.append(try expression(0))
                if !acceptComma() { break }
            }
            try expectKind(.rbracket, "']'")
            return .list(items)
        case .op("!"):
            index += 1
            return .not(try expression(3))
        case .op("-"):
            index += 1
            let operand = try expression(7)
            switch operand {
            case .literal(.int(let i)): return .literal(.int(-i))
            case .literal(.number(let d)): return .literal(.number(-d))
            default: return .negate(operand)
            }
        case .quotedIdentifier(let s):
            index += 1
            var parts = [s]
            // `a`.`b`: the '.' lexes as an identifier of its own.
            while case .identifier(".") = peek.kind, case .quotedIdentifier(let next) = peek(1).kind {
                index += 2
                parts.append(next)
            }
            return .field(parts)
        case .identifier(let word):
            return try wordExpression(word, t, inBlock: inBlock)
        default:
            throw error("expected an expression, found \(describe(t))")
        }
    }

    mutating func wordExpression(_ word: String, _ t: Token, inBlock: Bool) throws(QLError) -> QLExpr {
        let upper = word.uppercased()
        switch upper {
        case "TRUE":
            index += 1
            return .literal(.bool(true))
        case "FALSE":
            index += 1
            return .literal(.bool(false))
        case "NULL", "NIL":
            index += 1
            return .literal(.null)
        case "NOT":
            // `not(x)` written without a space is the function (it coerces "false", 0, ...).
            let next = peek(1)
            if case .lparen = next.kind, next.position.line == t.position.line, next.position.column == t.position.column + word.count {
                index += 1
                return try call(word, t)
            }
            index += 1
            return .not(try expression(3))
        case "EXISTS":
            index += 1
            return .exists(try expression(4))
        case "INCLUDE":
            index += 1
            return .include(try name("a filter name after INCLUDE").lowercased())
        case "AND", "OR":
            guard case .lparen = peek(1).kind else { throw error("expected '(' after \(upper)") }
            index += 2
            var children: [QLExpr] = []
            while true {
                if case .rparen = peek.kind {
                    index += 1
                    break
                }
                children.append(try expression(0, inBlock: true))
                guard children.count <= 10_000 else { throw error("block with more than 10,000 conditions") }
                if acceptComma() { continue }
                if case .rparen = peek.kind { continue }
                if peek.position.line > previousLine { continue } // a new line separates children too
                throw error("expected ',' or ')' in the \(upper) block, found \(describe(peek))")
            }
            guard !children.isEmpty else { throw error("empty \(upper) block", at: t) }
            if children.count == 1 { return children[0] }
            return upper == "AND" ? .and(children) : .or(children)
        default:
            index += 1
            if case .lparen = peek.kind {
                return try call(word, t)
            }
            return .field([word])
        }
    }

    mutating func call(_ name: String, _ t: Token) throws(QLError) -> QLExpr {
        index += 1 // (
        var args: [QLExpr] = []
        if case .rparen = peek.kind {
            index += 1
        } else {
            repeat {
                let arg = try expression(0)
                // ifcase(value IF condition, ..., default)
                if name.lowercased() == "ifcase", accept("IF") {
                    args.append(.call("ifcase.when", [arg, try expression(0)]))
                } else {
                    args.append(arg)
                }
            } while acceptComma()
            try expectKind(.rparen, "',' or ')' in the arguments of \(name)")
        }
        let lower = name.lowercased()
        guard let builtin = Builtins.table[lower] else { throw error("unknown function \(name)", at: t) }
        guard builtin.arity.contains(args.count) else {
            let range = builtin.arity.upperBound == Int.max ? "at least \(builtin.arity.lowerBound)" :
                builtin.arity.count == 1 ? "\(builtin.arity.lowerBound)" : "\(builtin.arity.lowerBound) to \(builtin.arity.upperBound)"
            throw error("\(lower) takes \(range) argument\(range == "1" ? "" : "s"), not \(args.count)", at: t)
        }
        return .call(lower, args)
    }
}
