/// A source position (1-based).
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// A parse error with where it happened and what was expected.
public struct QLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: SourcePosition
    public var message: String
    public init(_ message: String, at position: SourcePosition) {
        self.message = message
        self.position = position
    }
    public var description: String { "line \(position.line), column \(position.column): \(message)" }
}

enum TokenKind: Equatable, Sendable {
    case identifier(String)      // unquoted or quoted field name / keyword candidate
    case quotedIdentifier(String)
    case string(String)
    case int(Int64)
    case number(Double)
    case op(String)              // == != <> > >= < <= && || ! + - * / % = 
    case lparen, rparen, lbracket, rbracket, comma, semicolon
    case eof
}

struct Token: Equatable, Sendable {
    var kind: TokenKind
    var position: SourcePosition
    /// Comments directly before this token (for statement descriptions).
    var comments: [String] = []

    /// The upper-cased word if this is an unquoted identifier (keywords are case-insensitive).
    var keyword: String? {
        if case .identifier(let s) = kind { return s.uppercased() }
        return nil
    }
}
