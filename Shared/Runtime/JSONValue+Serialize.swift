extension JSONValue {
    /// Compact JSON text with object keys sorted, so equal values always serialise to equal bytes.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    public func serializedBytes() -> [UInt8] { Array(serialized().utf8) }

    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += Self.format(d)
        case .string(let s): out += JSONText.quote(s)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += JSONText.quote(key)
                out += ":"
                o[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// Doubles print in the shortest form that reads back the same; non-finite values become null.
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) + ".0" }
        return String(d)
    }
}
