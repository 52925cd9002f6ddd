/// An incremental RFC 4180 CSV parser: feed bytes in any split, get complete rows. Quoted fields
/// may hold commas, doubled quotes and line breaks; CRLF and LF both end rows. Bounded: a row
/// longer than `maxRowBytes` is an error, so hostile input cannot grow memory without end.
public struct CSVParser: Sendable {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "CSV line \(line): \(message)" }
        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    /// A row and the line on which it started (1-based).
    public struct Row: Equatable, Sendable {
        public var line: Int
        public var fields: [String]
        public init(line: Int, fields: [String]) {
            self.line = line
            self.fields = fields
        }
    }

    public let maxRowBytes: Int
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var inQuotes = false
    private var quoteSeen = false
    private var fieldStarted = false
    private var rowBytes = 0
    private var line = 1
    private var rowStartLine = 1
    private var pendingCR = false

    public init(maxRowBytes: Int = 1 << 20) {
        self.maxRowBytes = maxRowBytes
    }

    /// Consumes `bytes` and returns the rows completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ParseError) -> [Row] {
        var rows: [Row] = []
        for b in bytes {
            rowBytes += 1
            if rowBytes > maxRowBytes { throw ParseError(line: rowStartLine, message: "row longer than \(maxRowBytes) bytes") }
            if pendingCR {
                pendingCR = false
                if b == 0x0A { continue } // CRLF: the row already ended at CR
            }
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    inQuotes = false
                    quoteSeen = true
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                if quoteSeen {
                    // A doubled quote inside a quoted field.
                    field.append(b)
                    inQuotes = true
                    quoteSeen = false
                } else if !fieldStarted {
                    inQuotes = true
                    fieldStarted = true
                } else {
                    throw ParseError(line: line, message: "quote inside an unquoted field")
                }
            case UInt8(ascii: ","):
                endField()
            case 0x0A, 0x0D:
                if b == 0x0D { pendingCR = true }
                endField()
                if !(fields.count == 1 && fields[0].isEmpty) {
                    rows.append(Row(line: rowStartLine, fields: fields))
                }
                fields = []
                line += 1
                rowStartLine = line
                rowBytes = 0
            default:
                if quoteSeen { throw ParseError(line: line, message: "characters after a closing quote") }
                field.append(b)
                fieldStarted = true
            }
        }
        return rows
    }

    /// Ends the input: returns the last row if it had no line break.
    public mutating func finish() throws(ParseError) -> [Row] {
        if inQuotes { throw ParseError(line: rowStartLine, message: "unterminated quoted field") }
        guard fieldStarted || !fields.isEmpty || !field.isEmpty else { return [] }
        endField()
        defer { fields = [] }
        return fields.count == 1 && fields[0].isEmpty ? [] : [Row(line: rowStartLine, fields: fields)]
    }

    private mutating func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        quoteSeen = false
        fieldStarted = false
    }
}
