/// A value in the expression language. Times are epoch milliseconds (UTC).
public enum QLValue: Sendable, Hashable {
    case int(Int64)
    case number(Double)
    case bool(Bool)
    case string(String)
    case time(Int64)
    /// A list of strings (a set field).
    case strings([String])
    /// A list of mixed values.
    case list([QLValue])
    /// A string-keyed map (of ints, numbers, strings, times, ...).
    case map([String: QLValue])
    /// The NULL literal.
    case null

    /// The type name used by `cdp ql eval` and error messages.
    public var typeName: String {
        switch self {
        case .int: "int"
        case .number: "number"
        case .bool: "bool"
        case .string: "string"
        case .time: "time"
        case .strings: "strings"
        case .list: "list"
        case .map: "map"
        case .null: "nil"
        }
    }

    /// Nil-ness as functions see it: empty strings and lists, NaN and NULL count as nil.
    public var isNilLike: Bool {
        switch self {
        case .null: true
        case .string(let s): s.isEmpty
        case .number(let d): d.isNaN
        case .strings(let a): a.isEmpty
        case .list(let a): a.isEmpty
        case .time(let t): t == 0
        default: false
        }
    }

    /// Elements when the value is a list (strings or mixed).
    public var elements: [QLValue]? {
        switch self {
        case .strings(let a): a.map(QLValue.string)
        case .list(let a): a
        default: nil
        }
    }

    /// The string form (`tostring`).
    public var stringForm: String {
        switch self {
        case .int(let i): String(i)
        case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): b ? "true" : "false"
        case .string(let s): s
        case .time(let t): String(t)
        case .strings(let a): a.joined(separator: ",")
        case .list(let a): a.map(\.stringForm).joined(separator: ",")
        case .map(let m): m.keys.sorted().map { "\($0)=\(m[$0]!.stringForm)" }.joined(separator: ",")
        case .null: ""
        }
    }

    /// The value as a number, for arithmetic and ordering (numeric strings parse; `$ , € £` and
    /// spaces are stripped).
    public var numeric: Double? {
        switch self {
        case .int(let i): Double(i)
        case .number(let d): d
        case .string(let s): QLValue.parseNumber(s)
        default: nil
        }
    }

    public static func parseNumber(_ s: String) -> Double? {
        var cleaned = ""
        for c in s where !"$,€£ ".contains(c) { cleaned.append(c) }
        guard !cleaned.isEmpty else { return nil }
        if let i = Int64(cleaned) { return Double(i) }
        if cleaned.lowercased().hasPrefix("0x"), let h = Int64(cleaned.dropFirst(2), radix: 16) { return Double(h) }
        guard let d = Double(cleaned), d.isFinite else { return nil }
        return d
    }

    /// `"true"`, `"t"`, `"1"`, ... as a bool.
    public static func parseBool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "true", "t", "1", "yes", "y": true
        case "false", "f", "0", "no", "n": false
        default: nil
        }
    }
}
