/// Rules for the names users choose (account ids, stream names, document ids).
public enum Identifier {
    /// Account ids: `[a-z0-9_-]`, 1–64 characters, starting with a letter or digit.
    public static func accountProblem(_ id: String) -> String? {
        guard (1...64).contains(id.utf8.count) else { return "account id must have 1 to 64 characters" }
        guard id.utf8.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }),
              let first = id.utf8.first, isLowerAlnum(first) else {
            return "account id '\(id)' may use only a-z, 0-9, '_' and '-', starting with a letter or digit"
        }
        return nil
    }

    /// Stream names: `[A-Za-z0-9_.-]{1,128}`.
    public static func streamProblem(_ name: String) -> String? {
        guard (1...128).contains(name.utf8.count),
              name.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "stream name '\(name)' must match [A-Za-z0-9_.-]{1,128}"
        }
        return nil
    }

    /// A stream that events sent by users may go to: a valid name not starting with `_`, which
    /// is reserved for the platform's own streams (`_commands` carries deletions: a collect-only
    /// key must never write there, through any route).
    public static func userStreamProblem(_ name: String) -> String? {
        if let problem = streamProblem(name) { return problem }
        return name.hasPrefix("_") ? "stream names starting with '_' are reserved" : nil
    }

    /// Document ids and slugs: `[A-Za-z0-9_.-]{1,128}`.
    public static func documentProblem(_ id: String) -> String? {
        guard (1...128).contains(id.utf8.count),
              id.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "id '\(id)' must match [A-Za-z0-9_.-]{1,128}"
        }
        return nil
    }

    static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
}
