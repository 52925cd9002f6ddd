/// Parses FilterQL statements, LQL SELECT queries and bare expressions.
///
///     let statement = try QLParser.parse("FILTER AND (visits > 5, EXISTS email) ALIAS active")
public struct QLParser {
    var tokens: [Token]
    var index = 0
    var depth = 0
    static let maxDepth = 100

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// A FILTER or SELECT statement, or a bare expression.
    public static func parse(_ text: String) throws(QLError) -> QLStatement {
        let first = firstWord(text)
        var lexer = Lexer(text, singleQuoteIsIdentifier: first == "FILTER")
        var parser = QLParser(tokens: try lexer.tokens())
        let statement: QLStatement
        switch first {
        case "FILTER": statement = .filter(try parser.filterStatement())
        case "SELECT": statement = .select(try parser.selectStatement())
        default:
            let e = try parser.expression(0)
            statement = .expression(e)
        }
        if case .semicolon = parser.peek.kind { parser.index += 1 }
        guard case .eof = parser.peek.kind else { throw parser.error("unexpected \(parser.describe(parser.peek)) after the end of the statement") }
        return statement
    }

    /// Several statements separated by `;` (a mapping file holds one SELECT per stream).
    public static func parseAll(_ text: String) throws(QLError) -> [QLStatement] {
        var lexer = Lexer(text, singleQuoteIsIdentifier: false)
        var parser = QLParser(tokens: try lexer.tokens())
        var out: [QLStatement] = []
        while true {
            if case .eof = parser.peek.kind { break }
            switch parser.peek.keyword {
            case "SELECT": out.append(.select(try parser.selectStatement()))
            case "FILTER": out.append(.filter(try parser.filterStatement()))
            default: throw parser.error("expected SELECT or FILTER, found \(parser.describe(parser.peek))")
            }
            if case .semicolon = parser.peek.kind {
                parser.index += 1
                continue
            }
            guard case .eof = parser.peek.kind else { throw parser.error("expected ';' between statements, found \(parser.describe(parser.peek))") }
        }
        return out
    }

    /// Parses only a FILTER statement.
    public static func parseFilter(_ text: String) throws(QLError) -> FilterStatement {
        guard case .filter(let f) = try parse(text) else {
            throw QLError("expected a FILTER statement", at: SourcePosition(line: 1, column: 1))
        }
        return f
    }

    static func firstWord(_ text: String) -> String {
        var lexer = Lexer(text, singleQuoteIsIdentifier: false)
        var comments: [String] = []
        lexer.skipSpaceAndComments(&comments)
        guard lexer.index < lexer.bytes.count, let kind = try? lexer.next(), case .identifier(let word) = kind else { return "" }
        // `filter(x, "a")` (no space before the parenthesis) is the function, not a statement.
        if word.lowercased() == "filter", lexer.index < lexer.bytes.count, lexer.bytes[lexer.index] == UInt8(ascii: "(") { return "" }
        return word.uppercased()
    }

    // MARK: - Token helpers

    var peek: Token { tokens[index] }
    func peek(_ offset: Int) -> Token { tokens[min(index + offset, tokens.count - 1)] }
    var previousLine: Int { index > 0 ? tokens[index - 1].position.line : 1 }

    func error(_ message: String, at token: Token? = nil) -> QLError {
        QLError(message, at: (token ?? peek).position)
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .identifier(let s): "'\(s)'"
        case .quotedIdentifier(let s): "identifier '\(s)'"
        case .string(let s): "string \"\(s)\""
        case .int(let i): "number \(i)"
        case .number(let d): "number \(d)"
        case .op(let o): "'\(o)'"
        case .lparen: "'('"
        case .rparen: "')'"
        case .lbracket: "'['"
        case .rbracket: "']'"
        case .comma: "','"
        case .semicolon: "';'"
        case .eof: "the end of the text"
        }
    }

    mutating func isKeyword(_ word: String) -> Bool { peek.keyword == word }

    mutating func accept(_ word: String) -> Bool {
        if peek.keyword == word {
            index += 1
            return true
        }
        return false
    }

    mutating func expect(_ word: String) throws(QLError) {
        guard accept(word) else { throw error("expected \(word), found \(describe(peek))") }
    }

    mutating func expectKind(_ kind: TokenKind, _ what: String) throws(QLError) {
        guard peek.kind == kind else { throw error("expected \(what), found \(describe(peek))") }
        index += 1
    }

    /// A name: identifier, quoted identifier or string.
    mutating func name(_ what: String) throws(QLError) -> String {
        switch peek.kind {
        case .identifier(let s), .quotedIdentifier(let s), .string(let s):
            index += 1
            return s
        default: throw error("expected \(what), found \(describe(peek))")
        }
    }

    static let clauseWords: Set<String> = ["FROM", "LIMIT", "WITH", "ALIAS", "INTO", "BY", "WHERE", "FILTER", "IF", "AS",
                                           "SHORTDESC", "LONGDESC", "KIND", "MERGEOP"]

    // MARK: - Statements

    mutating func filterStatement() throws(QLError) -> FilterStatement {
        let comments = peek.comments
        try expect("FILTER")
        let body = try filterBody()
        var statement = FilterStatement(body: body, from: nil, limit: nil, with: [:], alias: nil,
                                        description: comments.isEmpty ? nil : comments.joined(separator: "\n"))
        try trailingClauses(from: &statement.from, limit: &statement.limit, with: &statement.with, alias: &statement.alias)
        return statement
    }

    mutating func filterBody() throws(QLError) -> QLExpr {
        if case .op("*") = peek.kind {
            index += 1
            return .matchAll
        }
        if peek.keyword == "MATCH_ALL" {
            index += 1
            return .matchAll
        }
        return try expression(0)
    }

    mutating func trailingClauses(from: inout String?, limit: inout Int?, with: inout [String: QLValue], alias: inout String?) throws(QLError) {
        while true {
            if accept("FROM") {
                from = try name("a name after FROM")
            } else if accept("LIMIT") {
                guard case .int(let n) = peek.kind, n >= 0 else { throw error("expected a number after LIMIT, found \(describe(peek))") }
                index += 1
                limit = Int(n)
            } else if accept("WITH") {
                repeat {
                    let key = try name("an option name after WITH")
                    guard case .op(let o) = peek.kind, o == "=" || o == "==" else { throw error("expected '=' after WITH option \(key)") }
                    index += 1
                    with[key] = try literalValue()
                } while acceptComma()
            } else if accept("ALIAS") {
                alias = try name("a name after ALIAS").lowercased()
            } else {
                return
            }
        }
    }

    mutating func acceptComma() -> Bool {
        if case .comma = peek.kind {
            index += 1
            return true
        }
        return false
    }

    mutating func literalValue() throws(QLError) -> QLValue {
        let t = peek
        index += 1
        switch t.kind {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .number(let d): return .number(d)
        case .identifier(let s):
            switch s.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            default: return .string(s)
            }
        default: throw error("expected a literal, found \(describe(t))", at: t)
        }
    }

    mutating func selectStatement() throws(QLError) -> SelectStatement {
        try expect("SELECT")
        var columns: [SelectColumn] = []
        repeat {
            columns.append(try column())
        } while acceptComma()
        try expect("FROM")
        var statement = SelectStatement(columns: columns, from: try name("a stream name after FROM"), into: nil, by: [], filter: nil,
                                        limit: nil, with: [:], alias: nil)
        if accept("INTO") { statement.into = try name("an entity after INTO") }
        if accept("BY") {
            repeat {
                statement.by.append(try name("an identity field after BY"))
            } while accept("OR")
        }
        if accept("FILTER") {
            statement.filter = try filterBody()
        } else if accept("WHERE") {
            statement.filter = try expression(0)
        }
        var from: String?
        try trailingClauses(from: &from, limit: &statement.limit, with: &statement.with, alias: &statement.alias)
        if let from { throw error("FROM given twice (\(from))") }
        return statement
    }

    mutating func column() throws(QLError) -> SelectColumn {
        let start = peek
        let expr = try expression(0)
        var column = SelectColumn(expr: expr, name: "", guardExpr: nil, shortDescription: nil, longDescription: nil, kind: nil, mergeOp: nil)
        switch expr {
        case .field(let parts): column.name = parts.joined(separator: ".")
        default: column.name = ""
        }
        while true {
            if accept("AS") {
                column.name = try name("a field name after AS")
            } else if accept("IF") {
                column.guardExpr = try expression(0)
            } else if accept("SHORTDESC") {
                guard case .string(let s) = peek.kind else { throw error("expected a string after SHORTDESC") }
                index += 1
                column.shortDescription = s
            } else if accept("LONGDESC") {
                guard case .string(let s) = peek.kind else { throw error("expected a string after LONGDESC") }
                index += 1
                column.longDescription = s
            } else if accept("KIND") {
                let kindToken = peek
                var text = ""
                scan: while true {
                    switch peek.kind {
                    case .identifier(let word) where (text.isEmpty || text.hasSuffix("]")) && !Self.clauseWords.contains(word.uppercased()):
                        text += word.lowercased()
                    case .lbracket: text += "["
                    case .rbracket: text += "]"
                    case .quotedIdentifier(let word) where !text.isEmpty && !text.hasSuffix("]"): text += "[" + word.lowercased() + "]"
                    default: break scan
                    }
                    index += 1
                }
                guard LQLKinds.kinds.contains(text) else {
                    throw error("unknown KIND '\(text)'; expected one of \(LQLKinds.kinds.sorted().joined(separator: ", "))", at: kindToken)
                }
                column.kind = text
            } else if accept("MERGEOP") {
                let opToken = peek
                let op = try name("a merge operator after MERGEOP").lowercased()
                guard LQLKinds.mergeOps.contains(op) else {
                    throw error("unknown MERGEOP '\(op)'; expected one of \(LQLKinds.mergeOps.sorted().joined(separator: ", "))", at: opToken)
                }
                column.mergeOp = op
            } else {
                break
            }
        }
        if column.name.isEmpty { throw error("a computed column needs AS name", at: start) }
        return column
    }
}
