import Foundation

/// A builtin function: its arity (checked at parse time) and implementation. Arguments that
/// failed to evaluate arrive as nil; returning nil means "not ok".
public struct Builtin: Sendable {
    public let arity: ClosedRange<Int>
    public let call: @Sendable ([QLValue?], QLContext) -> QLValue?
    /// The same function called with one argument, without an array of arguments (compiled
    /// programs use it for the hot one-argument builtins of mappings: an array per call was a
    /// seventh of the resolver's allocations).
    public let call1: (@Sendable (QLValue?, QLContext) -> QLValue?)?

    init(arity: ClosedRange<Int>, call: @escaping @Sendable ([QLValue?], QLContext) -> QLValue?,
         call1: (@Sendable (QLValue?, QLContext) -> QLValue?)? = nil) {
        self.arity = arity
        self.call = call
        self.call1 = call1
    }
}

/// The function library (names lower-case; see docs/ql.md for what each does).
public enum Builtins {
    static func first(_ v: QLValue?) -> QLValue? {
        switch v {
        case .strings(let a)?: a.first.map(QLValue.string) // not `elements`: no array of all of them
        case .list(let a)?: a.first
        default: v
        }
    }

    /// A map of one entry (a dictionary literal allocates an array of its pairs as well).
    static func single(_ key: String, _ value: QLValue) -> QLValue {
        var m = [String: QLValue](minimumCapacity: 1)
        m[key] = value
        return .map(m)
    }

    /// Whether `elements` is non-nil (without building it).
    static func isCollection(_ v: QLValue) -> Bool {
        switch v {
        case .strings, .list: true
        default: false
        }
    }

    static func str(_ v: QLValue?) -> String? {
        guard let f = first(v) else { return nil }
        if case .null = f { return nil }
        return f.stringForm
    }

    static func time(_ args: [QLValue?], _ ctx: QLContext) -> Int64? {
        guard let a = args.first else { return ctx.messageTimeMs ?? ctx.nowMs }
        guard let v = a else { return nil }
        return DateMath.time(v, now: ctx.nowMs)
    }

    /// Functions whose result depends on their arguments alone (not on the record, its time or
    /// the clock): compiled programs work out a call of one on literal arguments once.
    static let argumentsOnly: Set<String> = ["set", "map", "valuect", "tostring", "tolower", "string.lowercase", "string.uppercase", "email"]

    static func fn(_ arity: ClosedRange<Int>, _ body: @escaping @Sendable ([QLValue?], QLContext) -> QLValue?) -> Builtin {
        Builtin(arity: arity, call: body)
    }

    /// A function of exactly one argument.
    static func unary(_ body: @escaping @Sendable (QLValue?, QLContext) -> QLValue?) -> Builtin {
        Builtin(arity: 1...1, call: { a, c in body(a[0], c) }, call1: body)
    }

    static func string1(_ body: @escaping @Sendable (String) -> QLValue?) -> Builtin {
        unary { v, _ in str(v).flatMap(body) }
    }

    public static let table: [String: Builtin] = {
        var t: [String: Builtin] = [:]
        // Logic and comparison
        t["eq"] = fn(2...2) { a, c in Operators.compare(.eq, a[0], a[1], now: c.nowMs) }
        t["ne"] = fn(2...2) { a, c in Operators.compare(.ne, a[0], a[1], now: c.nowMs) }
        for (name, op) in [("gt", QLExpr.CompareOp.gt), ("ge", .ge), ("lt", .lt), ("le", .le)] {
            t[name] = fn(2...2) { a, _ in
                guard let x = a[0]?.numeric, let y = a[1]?.numeric else { return nil }
                return .bool(Operators.holds(op, x, y))
            }
        }
        t["not"] = fn(1...1) { a, _ in
            switch a[0] {
            case .bool(let b)?: return .bool(!b)
            case let v?: return QLValue.parseBool(v.stringForm).map { .bool(!$0) }
            case nil: return nil
            }
        }
        t["exists"] = fn(1...1) { a, _ in .bool(a[0] != nil) }
        t["any"] = fn(1...Int.max) { a, _ in .bool(a.contains { $0 != nil && !$0!.isNilLike }) }
        t["all"] = fn(1...Int.max) { a, _ in
            .bool(a.allSatisfy { v in
                guard let v, !v.isNilLike, v != .bool(false) else { return false }
                return true
            })
        }
        t["oneof"] = fn(2...Int.max) { a, _ in a.first { $0 != nil && !$0!.isNilLike } ?? nil }
        // Math
        t["sqrt"] = fn(1...1) { a, _ in
            switch a[0] {
            case .int(let i)?: return i >= 0 ? .number(Double(i).squareRoot()) : nil
            case .number(let d)?: return d >= 0 ? .number(d.squareRoot()) : nil
            default: return nil
            }
        }
        t["pow"] = fn(2...2) { a, _ in
            guard let x = a[0]?.numeric, let y = a[1]?.numeric else { return nil }
            let r = Foundation.pow(x, y)
            return r.isFinite ? .number(r) : nil
        }
        let numbers: @Sendable ([QLValue?]) -> [Double]? = { args in
            var out: [Double] = []
            for v in args {
                guard let v else { return nil }
                for item in v.elements ?? [v] {
                    if case .bool = item { return nil }
                    guard let d = item.numeric else { return nil }
                    out.append(d)
                }
            }
            return out
        }
        t["sum"] = fn(1...Int.max) { a, _ in
            guard let xs = numbers(a) else { return nil }
            let total = xs.reduce(0, +)
            return total == 0 ? nil : .number(total)
        }
        t["avg"] = fn(1...Int.max) { a, _ in
            guard let xs = numbers(a), !xs.isEmpty else { return nil }
            return .number(xs.reduce(0, +) / Double(xs.count))
        }
        t["count"] = unary { v, _ in v == nil ? nil : .int(1) }
        t["min"] = fn(1...Int.max) { a, _ in numbers(a).flatMap { $0.min() }.map(QLValue.number) }
        t["max"] = fn(1...Int.max) { a, _ in numbers(a).flatMap { $0.max() }.map(QLValue.number) }
        // Conversion
        t["toint"] = fn(1...1) { a, c in
            switch first(a[0]) {
            case .int(let i)?: return .int(i)
            case .number(let d)?: return d.isFinite && abs(d) < 9.2e18 ? .int(Int64(d)) : nil
            case .time(let t)?: return .int(t)
            case .bool(let b)?: return .int(b ? 1 : 0)
            case .string(let s)?:
                guard let d = QLValue.parseNumber(s), abs(d) < 9.2e18 else { return nil }
                return .int(Int64(d))
            default: return nil
            }
        }
        t["tonumber"] = fn(1...1) { a, _ in
            switch first(a[0]) {
            case .time(let t)?: return .number(Double(t))
            case let v?: return v.numeric.map(QLValue.number)
            default: return nil
            }
        }
        t["tobool"] = fn(1...1) { a, _ in
            switch first(a[0]) {
            case .bool(let b)?: return .bool(b)
            case .int(let i)?: return i == 0 || i == 1 ? .bool(i == 1) : nil
            case let v?: return QLValue.parseBool(v.stringForm).map(QLValue.bool)
            default: return nil
            }
        }
        t["tostring"] = fn(1...1) { a, _ in .string(a[0]?.stringForm ?? "") }
        // Strings
        t["contains"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let sub = str(a[1]), !sub.isEmpty else { return nil }
            return .bool(s.contains(sub))
        }
        t["hasprefix"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let p = str(a[1]), !p.isEmpty else { return nil }
            return .bool(s.hasPrefix(p))
        }
        t["hassuffix"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let p = str(a[1]), !p.isEmpty else { return nil }
            return .bool(s.hasSuffix(p))
        }
        t["tolower"] = string1 { .string($0.lowercased()) }
        t["string.lowercase"] = t["tolower"]
        t["string.uppercase"] = string1 { .string($0.uppercased()) }
        t["string.titlecase"] = string1 { .string($0.capitalized) }
        t["string.index"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let sub = str(a[1]), let r = s.range(of: sub) else { return nil }
            return .int(Int64(s.utf8.distance(from: s.startIndex, to: r.lowerBound)))
        }
        t["string.substr"] = fn(2...3) { a, _ in
            guard let s = str(a[0]), case .int(let start)? = a[1], start >= 0 else { return nil }
            let bytes = Array(s.utf8)
            var end = Int64(bytes.count)
            if a.count == 3 {
                guard case .int(let e)? = a[2] else { return nil }
                end = e
            }
            guard start <= end, end <= Int64(bytes.count) else { return nil }
            return .string(String(decoding: bytes[Int(start)..<Int(end)], as: UTF8.self))
        }
        t["split"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let sep = str(a[1]), !s.isEmpty, !sep.isEmpty else { return nil }
            return .strings(s.components(separatedBy: sep))
        }
        t["string.split"] = t["split"]
        t["strip"] = fn(1...1) { a, _ in
            switch a[0] {
            case .string(let s)?: return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
            case .strings(let xs)?: return .strings(xs.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            default: return nil
            }
        }
        t["string.strip"] = t["strip"]
        t["replace"] = fn(2...3) { a, _ in
            guard let s = str(a[0]), let find = str(a[1]), !find.isEmpty else { return nil }
            let with = a.count == 3 ? (str(a[2]) ?? "") : ""
            return .string(s.replacingOccurrences(of: find, with: with))
        }
        t["join"] = fn(2...Int.max) { a, _ in
            guard let sep = str(a.last ?? nil) else { return nil }
            let parts = a.dropLast().flatMap { v -> [String] in
                guard let v else { return [] }
                return (v.elements ?? [v]).map(\.stringForm)
            }.filter { !$0.isEmpty }
            return parts.isEmpty ? nil : .string(parts.joined(separator: sep))
        }
        t["len"] = fn(1...1) { a, _ in
            switch a[0] {
            case .string(let s)?: return .int(Int64(s.utf8.count))
            case .strings(let xs)?: return .int(Int64(xs.count))
            case .list(let xs)?: return .int(Int64(xs.count))
            case .map(let m)?: return .int(Int64(m.count))
            case .some: return .int(0)
            case nil: return nil
            }
        }
        t["char_length"] = t["len"]
        // Lists and maps
        t["array.index"] = fn(2...2) { a, _ in
            guard let items = a[0]?.elements, case .int(let i)? = a[1] else { return nil }
            let index = i < 0 ? Int64(items.count) + i : i
            return index >= 0 && index < Int64(items.count) ? items[Int(index)] : nil
        }
        t["array.slice"] = fn(2...3) { a, _ in
            guard let items = a[0]?.elements, case .int(var s)? = a[1] else { return nil }
            var e = Int64(items.count)
            if a.count == 3 {
                guard case .int(let x)? = a[2] else { return nil }
                e = x
            }
            if s < 0 { s += Int64(items.count) }
            if e < 0 { e += Int64(items.count) }
            guard s >= 0, s <= e, e <= Int64(items.count) else { return nil }
            let slice = Array(items[Int(s)..<Int(e)])
            if slice.allSatisfy({ if case .string = $0 { true } else { false } }) { return .strings(slice.map(\.stringForm)) }
            return .list(slice)
        }
        t["map"] = fn(2...2) { a, _ in
            guard let k = a[0], let v = a[1], !k.isNilLike else { return nil }
            return single(k.stringForm, v)
        }
        t["mapkeys"] = fn(1...Int.max) { a, _ in
            var keys = Set<String>()
            for v in a { if case .map(let m)? = v { keys.formUnion(m.keys) } }
            return keys.isEmpty ? nil : .strings(keys.sorted())
        }
        t["mapvalues"] = fn(1...1) { a, _ in
            guard case .map(let m)? = a[0] else { return nil }
            return .strings(Set(m.values.map(\.stringForm)).sorted())
        }
        t["mapinvert"] = fn(1...1) { a, _ in
            guard case .map(let m)? = a[0] else { return nil }
            var out: [String: QLValue] = [:]
            for (k, v) in m { out[v.stringForm] = .string(k) }
            return .map(out)
        }
        let set: @Sendable ([QLValue?], QLContext) -> QLValue? = { a, _ in
            var seen: [String] = []
            for v in a {
                guard let v else { continue }
                for item in v.elements ?? [v] where !item.isNilLike && !seen.contains(item.stringForm) { seen.append(item.stringForm) }
            }
            return seen.isEmpty ? nil : .strings(seen)
        }
        // One scalar (the usual `set(path(url))`): its string form alone, no arrays on the way.
        t["set"] = Builtin(arity: 1...Int.max, call: set) { v, c in
            guard let v else { return nil }
            if isCollection(v) { return set([v], c) }
            return v.isNilLike ? nil : .strings([v.stringForm])
        }
        t["valuect"] = unary { v, _ in
            guard let v else { return nil }
            if !isCollection(v) { return v.isNilLike ? nil : single(v.stringForm, .int(1)) }
            var counts: [String: QLValue] = [:]
            for item in v.elements ?? [] where !item.isNilLike { // a collection here
                if case .int(let n)? = counts[item.stringForm] { counts[item.stringForm] = .int(n + 1) } else { counts[item.stringForm] = .int(1) }
            }
            return counts.isEmpty ? nil : .map(counts)
        }
        // Time
        t["now"] = fn(0...0) { _, c in .time(c.messageTimeMs ?? c.nowMs) }
        t["totimestamp"] = fn(1...1) { a, c in
            guard let v = first(a[0]), let t = DateMath.time(v, now: c.nowMs) else { return nil }
            return .int(DateMath.floorDiv(t, 1000))
        }
        t["epochms"] = fn(0...1) { a, c in time(a, c).map(QLValue.int) }
        t["yy"] = fn(0...1) { a, c in time(a, c).map { .int(Int64(DateMath.components($0).year % 100)) } }
        t["mm"] = fn(0...1) { a, c in time(a, c).map { .int(Int64(DateMath.components($0).month)) } }
        t["monthofyear"] = t["mm"]
        t["yymm"] = fn(0...1) { a, c in
            time(a, c).map { let d = DateMath.components($0); return .string(String(format: "%02d%02d", d.year % 100, d.month)) }
        }
        t["dayofweek"] = fn(0...1) { a, c in time(a, c).map { .int(Int64(DateMath.components($0).weekday)) } }
        t["hourofday"] = fn(0...1) { a, c in time(a, c).map { .int(Int64(DateMath.components($0).hour)) } }
        t["hourofweek"] = fn(0...1) { a, c in time(a, c).map { let d = DateMath.components($0); return .int(Int64(d.weekday * 24 + d.hour)) } }
        // E-mail and URLs
        t["email"] = string1 { s in WebFunctions.email(s).map { .string($0.address) } }
        t["emailname"] = string1 { s in WebFunctions.email(s).flatMap { $0.name.isEmpty ? nil : .string($0.name) } }
        t["emaildomain"] = string1 { s in WebFunctions.email(s).map { .string(String($0.address.split(separator: "@").last ?? "")) } }
        t["host"] = string1 { s in WebFunctions.split(s).flatMap { $0.host.isEmpty ? nil : .string($0.host.lowercased()) } }
        t["domain"] = string1 { s in WebFunctions.split(s).flatMap { PublicSuffix.registrableDomain($0.host.lowercased()) }.map(QLValue.string) }
        t["path"] = string1 { s in
            // A bare path ("/a/b") is a path, not a host.
            let s = WebFunctions.lowercased(s)
            if s.hasPrefix("/") && !s.hasPrefix("//") { return .string(String(s.prefix { $0 != "?" && $0 != "#" })) }
            return WebFunctions.split(s).map { .string($0.path) }
        }
        t["qs"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let k = str(a[1]) else { return nil }
            return WebFunctions.query(s.lowercased(), k.lowercased()).map(QLValue.string)
        }
        t["qsl"] = t["qs"]
        t["qs2"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let k = str(a[1]) else { return nil }
            return WebFunctions.query(s, k).map(QLValue.string)
        }
        t["urldecode"] = string1 { s in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding.map(QLValue.string) }
        t["uuid"] = fn(0...0) { _, _ in .string(UUID().uuidString.lowercased()) }
        // Encoding
        t["encoding.b64encode"] = string1 { .string(Data($0.utf8).base64EncodedString()) }
        t["encoding.b64decode"] = string1 { s in Data(base64Encoded: s).map { .string(String(decoding: $0, as: UTF8.self)) } }
        more(&t)
        return t
    }()
}

/// Small parsers for e-mail addresses and URLs used by the builtins.
enum WebFunctions {
    /// `"Name <addr>"` or `addr` → (lower-cased address, name); nil if not an address.
    static func email(_ text: String) -> (address: String, name: String)? {
        if let address = plainEmail(text) { return (address, "") }
        return fullEmail(text)
    }

    /// `email` by the full rules (display names, spaces, Unicode).
    static func fullEmail(_ text: String) -> (address: String, name: String)? {
        var s = text.trimmingCharacters(in: .whitespaces)
        var name = ""
        if let open = s.lastIndex(of: "<"), let close = s.lastIndex(of: ">"), open < close {
            name = s[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            s = String(s[s.index(after: open)..<close])
        }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !s.contains(" "), s.utf8.count <= 254 else { return nil }
        return (s.lowercased(), name)
    }

    /// The common case of `email` in one byte scan: printable ASCII without spaces or angle
    /// brackets, one `@`, a dotted domain. Nil means "not this case" (the full rules decide).
    static func plainEmail(_ text: String) -> String? {
        var at = -1, count = 0, upper = false, lastDot = -1, firstDotAfterAt = -1
        for b in text.utf8 {
            guard b > 0x20, b < 0x7F, b != 0x3C, b != 0x3E else { return nil }
            if b == 0x40 {
                if at >= 0 { return nil }
                at = count
            } else if b == 0x2E {
                lastDot = count
                if at >= 0 && firstDotAfterAt < 0 { firstDotAfterAt = count }
            } else if b >= 0x41 && b <= 0x5A {
                upper = true
            }
            count += 1
        }
        // Local part not empty; the domain has a dot, and neither starts nor ends with one.
        guard at > 0, count <= 254, firstDotAfterAt > at + 1, lastDot != count - 1 else { return nil }
        if !upper { return text }
        return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    static func url(_ text: String) -> URLComponents? {
        let s = text.contains("://") ? text : "http://" + text
        return URLComponents(string: s)
    }

    /// (host, path, query) split by hand — the hot builtins (host, path) avoid URLComponents.
    /// `s.lowercased()`, without the copy when `s` is ASCII with no capitals (most URLs).
    static func lowercased(_ s: String) -> String {
        for b in s.utf8 where b >= 0x80 || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) { return s.lowercased() }
        return s
    }

    static func split(_ text: String) -> (host: String, path: String, query: String)? {
        // Byte scans (every delimiter is ASCII, so byte positions are character boundaries):
        // this runs for every page view of the default web mapping.
        var rest = Substring(text)
        if let scheme = Self.firstSchemeSeparator(rest) {
            rest = rest[scheme...]
        } else if rest.utf8.starts(with: [0x2F, 0x2F]) {
            rest = rest.dropFirst(2)
        }
        let hostEnd = rest.utf8.firstIndex { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 } ?? rest.endIndex
        var host = rest[..<hostEnd]
        if let at = host.utf8.lastIndex(of: 0x40) { host = host[host.utf8.index(after: at)...] }
        if let colon = host.utf8.lastIndex(of: 0x3A), !host.utf8.contains(0x5D) { host = host[..<colon] }
        var tail = rest[hostEnd...]
        if let hash = tail.utf8.firstIndex(of: 0x23) { tail = tail[..<hash] }
        let queryStart = tail.utf8.firstIndex(of: 0x3F)
        let path = queryStart.map { tail[..<$0] } ?? tail
        let query = queryStart.map { tail[tail.utf8.index(after: $0)...] } ?? ""
        guard !host.isEmpty || !path.isEmpty else { return nil }
        return (String(host), path.isEmpty ? "/" : String(path), String(query))
    }

    /// The index just after the first "://", if any.
    static func firstSchemeSeparator(_ s: Substring) -> String.Index? {
        let u = s.utf8
        var i = u.startIndex
        while let colon = u[i...].firstIndex(of: 0x3A) {
            let a = u.index(after: colon)
            guard a < u.endIndex else { return nil }
            let b = u.index(after: a)
            if u[a] == 0x2F, b < u.endIndex, u[b] == 0x2F { return u.index(after: b) }
            i = a
        }
        return nil
    }

    static func query(_ url: String, _ key: String) -> String? {
        self.url(url)?.queryItems?.first { $0.name == key }?.value
    }
}
