/// Where and why JSON text is malformed.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// Byte offset (0-based), line and column (1-based) of the problem.
    public let offset: Int
    public let line: Int
    public let column: Int

    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// A strict, bounded JSON parser (RFC 8259) over UTF-8 bytes.
///
/// Limits: nesting depth (default 64) and, by the caller, input size. Numbers without a fraction
/// or exponent that fit in Int64 become `.int`; others `.double`. Duplicate keys: the last wins.
public struct JSONParser {
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer) }
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses `bytes` as one JSON value; when it is an object, hands each member to `member` in
    /// order and returns true (no table is built: a repeated key comes again, and keeping the last
    /// gives what `parse` gives). Any other valid value returns false without calling `member`.
    public func parseObject(_ bytes: [UInt8], _ member: (_ key: String, _ value: JSONValue) -> Void) throws(JSONParseError) -> Bool {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) -> Bool in
            var reader = Reader(bytes: buffer, maxDepth: maxDepth)
            reader.skipWhitespace()
            guard reader.index < buffer.count, buffer[reader.index] == UInt8(ascii: "{") else {
                _ = try parse(buffer) // the same errors as `parse` for anything else
                return false
            }
            let first = try reader.members(depth: 1)
            reader.skipWhitespace()
            if reader.index < buffer.count { throw reader.error("unexpected data after the JSON value") }
            for i in first..<reader.members.count { member(reader.members[i].key, reader.members[i].value) }
            return true
        }
    }

    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.index < bytes.count { throw reader.error("unexpected data after the JSON value") }
        return value
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var index = 0
        /// Members of the objects being read (innermost last).
        var members: [(key: String, value: JSONValue)] = []

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
            members.reserveCapacity(16) // one allocation for a typical event, not one per doubling
        }

        func error(_ message: String, at position: Int? = nil) -> JSONParseError {
            let offset = min(position ?? index, bytes.count)
            var line = 1
            var lineStart = 0
            for i in 0..<offset where bytes[i] == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            return JSONParseError(message: message, offset: offset, line: line, column: offset - lineStart + 1)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default:
                throw error("unexpected character '\(Self.printable(bytes[index]))', expected a value")
            }
        }

        static func printable(_ b: UInt8) -> String {
            (0x20..<0x7f).contains(b) ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw error("unexpected end of input in literal") }
            let w = word.utf8Start
            for i in 0..<count where bytes[index + i] != w[i] {
                throw error("invalid literal, expected '\(word)'")
            }
            index += count
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            // Members gather on a stack shared by all nesting levels, so each object's table is
            // made once at its final size (no rehashing while it grows).
            let first = try members(depth: depth)
            defer { members.removeSubrange(first...) }
            var out = [String: JSONValue](minimumCapacity: members.count - first)
            for i in first..<members.count { out[members[i].key] = members[i].value } // the last duplicate wins
            return .object(out)
        }

        /// Reads an object's members onto `members`; they are the entries from the returned index
        /// on, for the caller to take off.
        mutating func members(depth: Int) throws(JSONParseError) -> Int {
            if depth > maxDepth { throw error("nesting deeper than \(maxDepth) levels") }
            index += 1
            skipWhitespace()
            let first = members.count
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return first
            }
            while true {
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input in object") }
                guard bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key in object") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
                index += 1
                skipWhitespace()
                let value = try value(depth: depth)
                members.append((key, value))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input in object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return first
                }
                throw error("expected ',' or '}' in object")
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            if depth > maxDepth { throw error("nesting deeper than \(maxDepth) levels") }
            index += 1
            var out: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(out)
            }
            while true {
                skipWhitespace()
                out.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input in array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(out)
                }
                throw error("expected ',' or ']' in array")
            }
        }

        mutating func string() throws(JSONParseError) -> String {
            let start = index
            index += 1
            // Fast path: no escapes.
            var scan = index
            var high: UInt8 = 0 // any byte >= 0x80 sets the top bit
            while scan < bytes.count {
                let b = bytes[scan]
                if b == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[index..<scan])
                    let s: String
                    if high < 0x80 {
                        s = String(decoding: slice, as: UTF8.self) // ASCII: valid as it is
                    } else {
                        guard let v = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8 in string", at: start) }
                        s = v
                    }
                    index = scan + 1
                    return s
                }
                high |= b
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw error("control character in string", at: scan) }
                scan += 1
            }
            var out: [UInt8] = Array(bytes[index..<scan])
            index = scan
            while true {
                guard index < bytes.count else { throw error("unterminated string", at: start) }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string", at: start) }
                    return s
                }
                if b < 0x20 { throw error("control character in string") }
                if b != UInt8(ascii: "\\") {
                    out.append(b)
                    index += 1
                    continue
                }
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    out.append(contentsOf: Array(String(UnicodeScalar(scalar)!).utf8))
                default:
                    throw error("invalid escape '\\\(Self.printable(e))'", at: index - 2)
                }
            }
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        mutating func number() throws(JSONParseError) -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number", at: start) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) { throw error("leading zero in number", at: start) }
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected digits after '.'") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected digits in exponent") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if isInteger, let i = integer(start..<index) { return .int(i) }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { throw error("number out of range", at: start) }
            return .double(d)
        }

        /// An integer's digits (already checked) as Int64, or nil when out of range.
        func integer(_ range: Range<Int>) -> Int64? {
            var i = range.lowerBound
            let negative = bytes[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            var v: Int64 = 0
            while i < range.upperBound {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                // Accumulated negatively so that Int64.min fits.
                let (d, o2) = m.subtractingReportingOverflow(Int64(bytes[i] &- UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                v = d
                i += 1
            }
            if negative { return v }
            return v == .min ? nil : -v
        }

        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    }
}
