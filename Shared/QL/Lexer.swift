/// Splits query text into tokens. In FilterQL, single quotes quote identifiers (`INCLUDE 'x'`);
/// in bare expressions and LQL they delimit strings.
struct Lexer {
    let bytes: [UInt8]
    let singleQuoteIsIdentifier: Bool
    var index = 0
    var line = 1
    var lineStart = 0

    init(_ text: String, singleQuoteIsIdentifier: Bool) {
        bytes = Array(text.utf8)
        self.singleQuoteIsIdentifier = singleQuoteIsIdentifier
    }

    var position: SourcePosition { SourcePosition(line: line, column: index - lineStart + 1) }

    mutating func tokens(maxTokens: Int = 100_000) throws(QLError) -> [Token] {
        var out: [Token] = []
        while true {
            var comments: [String] = []
            skipSpaceAndComments(&comments)
            let start = position
            guard index < bytes.count else {
                out.append(Token(kind: .eof, position: start, comments: comments))
                return out
            }
            guard out.count < maxTokens else { throw QLError("query longer than \(maxTokens) tokens", at: start) }
            let kind = try next()
            out.append(Token(kind: kind, position: start, comments: comments))
        }
    }

    mutating func advance() {
        if bytes[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        index += 1
    }

    mutating func skipSpaceAndComments(_ comments: inout [String]) {
        while index < bytes.count {
            let b = bytes[index]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                advance()
            } else if b == UInt8(ascii: "-"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "-") {
                let start = index + 2
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                comments.append(String(decoding: bytes[start..<index], as: UTF8.self).trimmingSpaces())
            } else if b == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                let start = index + 2
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                comments.append(String(decoding: bytes[start..<index], as: UTF8.self).trimmingSpaces())
            } else {
                return
            }
        }
    }

    static func isIdentStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_") || b == UInt8(ascii: "@") || b >= 0x80
    }

    static func isIdentPart(_ b: UInt8) -> Bool {
        isIdentStart(b) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "/")
    }

    mutating func next() throws(QLError) -> TokenKind {
        let start = position
        let b = bytes[index]
        switch b {
        case UInt8(ascii: "("): advance(); return .lparen
        case UInt8(ascii: ")"): advance(); return .rparen
        case UInt8(ascii: "["):
            // `[name]` quotes an identifier; `[1, "a"]` is a literal list.
            if let close = bytes[index...].firstIndex(of: UInt8(ascii: "]")),
               bytes[(index + 1)..<close].allSatisfy({ Self.isIdentPart($0) || $0 == 0x20 }),
               close > index + 1, Self.isIdentStart(bytes[index + 1]) {
                let name = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
                while index <= close { advance() }
                return .quotedIdentifier(name)
            }
            advance()
            return .lbracket
        case UInt8(ascii: "]"): advance(); return .rbracket
        case UInt8(ascii: ","): advance(); return .comma
        case UInt8(ascii: ";"): advance(); return .semicolon
        case UInt8(ascii: "\""): return .string(try quoted(0x22, start))
        case UInt8(ascii: "'"):
            let text = try quoted(0x27, start)
            return singleQuoteIsIdentifier ? .quotedIdentifier(text) : .string(text)
        case UInt8(ascii: "`"): return .quotedIdentifier(try quoted(0x60, start))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return try number(start)
        case UInt8(ascii: "."):
            if index + 1 < bytes.count, bytes[index + 1] >= 0x30, bytes[index + 1] <= 0x39 { return try number(start) }
            return identifier()
        default:
            if Self.isIdentStart(b) { return identifier() }
            for op in ["==", "!=", "<>", ">=", "<=", "&&", "||", ">", "<", "=", "!", "+", "-", "*", "/", "%"] {
                let o = Array(op.utf8)
                if index + o.count <= bytes.count, Array(bytes[index..<(index + o.count)]) == o {
                    for _ in o { advance() }
                    return .op(op)
                }
            }
            throw QLError("unexpected character '\(String(decoding: [b], as: UTF8.self))'", at: start)
        }
    }

    mutating func identifier() -> TokenKind {
        let s = index
        while index < bytes.count, Self.isIdentPart(bytes[index]) { advance() }
        // A trailing '.' or '-' is not part of a name.
        return .identifier(String(decoding: bytes[s..<index], as: UTF8.self))
    }

    mutating func number(_ start: SourcePosition) throws(QLError) -> TokenKind {
        let s = index
        var isFloat = false
        while index < bytes.count {
            let c = bytes[index]
            if c >= 0x30 && c <= 0x39 {
                advance()
            } else if c == UInt8(ascii: ".") && !isFloat {
                isFloat = true
                advance()
            } else if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), index + 1 < bytes.count,
                      bytes[index + 1] >= 0x30 && bytes[index + 1] <= 0x39 || bytes[index + 1] == UInt8(ascii: "-") || bytes[index + 1] == UInt8(ascii: "+") {
                isFloat = true
                advance()
                advance()
            } else {
                break
            }
        }
        if index < bytes.count, Self.isIdentStart(bytes[index]) {
            throw QLError("invalid number", at: start)
        }
        let text = String(decoding: bytes[s..<index], as: UTF8.self)
        if !isFloat, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { throw QLError("invalid number '\(text)'", at: start) }
        return .number(d)
    }

    /// A quoted run; the quote is escaped by doubling it or with a backslash.
    mutating func quoted(_ quote: UInt8, _ start: SourcePosition) throws(QLError) -> String {
        advance()
        var out: [UInt8] = []
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let e = bytes[index + 1]
                advance()
                advance()
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                default: out.append(e)
                }
                continue
            }
            if c == quote {
                if index + 1 < bytes.count, bytes[index + 1] == quote {
                    out.append(quote)
                    advance()
                    advance()
                    continue
                }
                advance()
                return String(decoding: out, as: UTF8.self)
            }
            out.append(c)
            advance()
        }
        throw QLError("unterminated quoted text", at: start)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
