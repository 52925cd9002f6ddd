extension JSONText {
    /// Appends `s` as a JSON string literal; bytes that need no escaping are copied as they are.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let plain = s.withUTF8Bytes { text in
            // Most strings need no escape: copied as they are, without making room first
            // (measured: for short strings that cost more than the copy).
            guard !ByteWriter.needsEscape(text) else { return false }
            out.append(0x22)
            out.append(contentsOf: text)
            out.append(0x22)
            return true
        }
        if !plain { ByteWriter.append(to: &out, estimate: s.utf8.count + 16) { $0.quoted(s) } }
    }
}

/// Minimal JSON text helpers used where building a `JSONSerialization` object would be wasteful
/// (log lines, metrics, hot response paths).
public enum JSONText {
    /// The decimal digits of `v` (no String on the way).
    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[ByteWriter.decimal(v, into: buffer)...]))
        }
    }

    /// `s` as a JSON string literal, quotes included, with every control character escaped.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }
}
