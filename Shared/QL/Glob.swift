/// LIKE patterns: `*` any run not crossing `/`, `**` any run, `?` one character (not `/`),
/// `[a-z]` / `[^...]` classes, `\` escapes; SQL `%` means `*`. Case-sensitive. Matched with a
/// dynamic programme (no backtracking), so hostile patterns cannot take exponential time.
public struct Glob: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case char(Character)
        case any           // ?
        case star          // *
        case doubleStar    // **
        case set(negated: Bool, ranges: [ClosedRange<Character>])
    }

    let pieces: [Piece]

    public init(_ pattern: String) {
        var out: [Piece] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*", "%":
                if i + 1 < chars.count, chars[i + 1] == "*" || chars[i + 1] == "%" {
                    out.append(.doubleStar)
                    i += 1
                    while i + 1 < chars.count, chars[i + 1] == "*" || chars[i + 1] == "%" { i += 1 }
                } else {
                    out.append(.star)
                }
            case "?": out.append(.any)
            case "\\" where i + 1 < chars.count:
                i += 1
                out.append(.char(chars[i]))
            case "[":
                var j = i + 1
                var negated = false
                if j < chars.count, chars[j] == "^" || chars[j] == "!" { negated = true; j += 1 }
                var ranges: [ClosedRange<Character>] = []
                var closed = false
                while j < chars.count {
                    if chars[j] == "]", !ranges.isEmpty || j > i + (negated ? 2 : 1) { closed = true; break }
                    if j + 2 < chars.count, chars[j + 1] == "-", chars[j + 2] != "]" {
                        let lo = chars[j], hi = chars[j + 2]
                        ranges.append(lo <= hi ? lo...hi : hi...lo)
                        j += 3
                    } else {
                        ranges.append(chars[j]...chars[j])
                        j += 1
                    }
                }
                if closed {
                    out.append(.set(negated: negated, ranges: ranges))
                    i = j
                } else {
                    out.append(.char("["))
                }
            default: out.append(.char(c))
            }
            i += 1
        }
        pieces = out
    }

    public func matches(_ text: String) -> Bool {
        let s = Array(text)
        let n = s.count
        // reachable[j]: the pattern prefix consumed so far can end at text position j.
        var reachable = [Bool](repeating: false, count: n + 1)
        reachable[0] = true
        for piece in pieces {
            var next = [Bool](repeating: false, count: n + 1)
            switch piece {
            case .star, .doubleStar:
                var carry = false
                for j in 0...n {
                    if reachable[j] { carry = true }
                    next[j] = carry
                    if j < n, piece == .star, s[j] == "/" { carry = false }
                }
            default:
                for j in 0..<n where reachable[j] {
                    let c = s[j]
                    let ok: Bool
                    switch piece {
                    case .char(let p): ok = p == c
                    case .any: ok = c != "/"
                    case .set(let negated, let ranges): ok = ranges.contains { $0.contains(c) } != negated
                    default: ok = false
                    }
                    if ok { next[j + 1] = true }
                }
            }
            reachable = next
            if !reachable.contains(true) { return false }
        }
        return reachable[n]
    }
}
