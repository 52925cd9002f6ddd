import Crypto
import Foundation

extension Builtins {
    /// The rest of the library: hashing, casts, time formatting, map/list filters, URLs, IPs,
    /// user agents, JSON paths.
    static func more(_ t: inout [String: Builtin]) {
        for (name, algorithm) in [("hash.md5", Digest.Algorithm.md5), ("hash.sha1", .sha1), ("hash.sha256", .sha256), ("hash.sha512", .sha512)] {
            t[name] = string1 { s in s.isEmpty ? nil : .string(Digest.hex(Digest.digest(algorithm, Array(s.utf8)))) }
        }
        t["hash"] = fn(1...1) { a, _ in
            guard case .string(let s)? = first(a[0]) else { return nil }
            return .int(Int64(bitPattern: SipHash.hash24(Array(s.utf8), k0: 0, k1: 1)))
        }
        t["hash.sip"] = t["hash"]
        t["unsign"] = fn(1...1) { a, _ in
            guard case .int(let i)? = first(a[0]) else { return nil }
            return .string(String(UInt64(bitPattern: i)))
        }
        t["cast"] = fn(2...2) { a, c in
            guard let v = a[0], let type = str(a[1])?.lowercased() else { return nil }
            switch type {
            case "string", "char": return .string(v.stringForm)
            case "int": return table["toint"]!.call([v], c)
            case "time": return DateMath.time(v, now: c.nowMs).map(QLValue.time)
            default: return nil
            }
        }
        t["seconds"] = fn(1...1) { a, c in
            switch a[0] {
            case .time(let t)?: return .number(Double(t) / 1000)
            case .int(let i)?: return .number(Double(i))
            case .number(let d)?: return .number(d)
            case .string(let s)?:
                var text = s
                if text.hasPrefix("M") { text.removeFirst() }
                let parts = text.split(separator: ":")
                if parts.count == 2, let m = Int(parts[0]), let sec = Int(parts[1]) { return .number(Double(m * 60 + sec)) }
                if let d = Double(s) { return .number(d) }
                return DateMath.parseDate(s).map { .number(Double($0) / 1000) }
            default: return nil
            }
        }
        t["extract"] = fn(2...2) { a, c in
            guard let v = a[0], let tm = DateMath.time(v, now: c.nowMs), let format = str(a[1]) else { return nil }
            return .string(TimeFormat.strftime(tm, format))
        }
        t["strftime"] = t["extract"]
        t["unixtrunc"] = fn(1...2) { a, c in
            guard let v = a[0], let tm = DateMath.time(v, now: c.nowMs) else { return nil }
            let precision = a.count == 2 ? (str(a[1]) ?? "") : ""
            let seconds = DateMath.floorDiv(tm, 1000)
            switch precision {
            case "": return .string(String(seconds))
            case "seconds", "s": return .string(String(format: "%lld.%03lld", seconds, tm - seconds * 1000))
            case "ms", "milliseconds": return .string(String(tm))
            case "sm", "secondsmicro": return .string(String(format: "%lld.%06lld", seconds, (tm - seconds * 1000) * 1000))
            default: return nil
            }
        }
        t["todatein"] = fn(2...2) { a, c in
            guard let s = str(a[0]), let zone = str(a[1]), let tz = TimeZone(identifier: zone) else { return nil }
            if let math = DateMath.parse(s) { return .time(DateMath.apply(c.nowMs, unit: math.unit, amount: math.amount)) }
            guard let local = DateMath.parseDate(s) else { return nil }
            // The text was local time in `zone`: shift by the zone's offset at that moment.
            let offset = Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local) / 1000))) * 1000
            return .time(local - offset)
        }
        t["maptime"] = fn(1...2) { a, c in
            guard let k = str(a[0]), !k.isEmpty else { return nil }
            let time: Int64? = a.count == 2 ? a[1].flatMap { DateMath.time($0, now: c.nowMs) } : (c.messageTimeMs ?? c.nowMs)
            return time.map { .map([k.lowercased(): .time($0)]) }
        }
        t["filter"] = fn(2...Int.max) { a, _ in filtered(a, keep: false) }
        t["filtermatch"] = fn(2...Int.max) { a, _ in filtered(a, keep: true) }
        t["urlmain"] = string1 { s in
            guard let u = WebFunctions.url(s), let host = u.host else { return nil }
            return .string(host + u.path)
        }
        t["urlminusqs"] = fn(2...2) { a, _ in
            guard let s = str(a[0]), let key = str(a[1]), var u = WebFunctions.url(s) else { return nil }
            let items = (u.queryItems ?? []).filter { $0.name != key }.sorted { $0.name < $1.name }
            u.queryItems = items.isEmpty ? nil : items
            return u.string.map(QLValue.string)
        }
        t["hosts"] = fn(1...Int.max) { a, _ in
            let hosts = a.flatMap { v in (v?.elements ?? v.map { [$0] } ?? []).compactMap { WebFunctions.url($0.stringForm)?.host?.lowercased() } }
            return hosts.isEmpty ? nil : .strings(hosts)
        }
        t["domains"] = fn(1...Int.max) { a, _ in
            let domains = a.flatMap { v in
                (v?.elements ?? v.map { [$0] } ?? []).compactMap { WebFunctions.url($0.stringForm)?.host.flatMap { PublicSuffix.registrableDomain($0.lowercased()) } }
            }
            return domains.isEmpty ? nil : .strings(domains)
        }
        t["ipfilter"] = fn(2...2) { a, _ in
            guard let ip = str(a[0]), let cidr = str(a[1]) else { return nil }
            return IPNetwork.contains(cidr: cidr, ip: ip).map(QLValue.bool)
        }
        t["useragent"] = fn(2...2) { a, _ in
            guard let ua = str(a[0]), let feature = str(a[1]) else { return nil }
            return UserAgent.parse(ua)[feature.lowercased()].map(QLValue.string)
        }
        t["useragent.map"] = string1 { ua in .map(UserAgent.parse(ua).mapValues(QLValue.string)) }
        // ifcase(v1 IF c1, v2 IF c2, default): evaluated lazily by the evaluator; the entry fixes the arity.
        t["ifcase"] = fn(1...Int.max) { _, _ in nil }
        t["ifcase.when"] = fn(2...2) { _, _ in nil }
        t["timebucket"] = fn(1...2) { a, c in
            guard let v = a[0], let tm = DateMath.time(v, now: c.nowMs) else { return nil }
            let unit = a.count == 2 ? (str(a[1]) ?? "day") : "day"
            let d = DateMath.components(tm)
            switch unit {
            case "minute": return .time(DateMath.floorDiv(tm, 60_000) * 60_000)
            case "hour": return .time(DateMath.floorDiv(tm, 3_600_000) * 3_600_000)
            case "day": return .time(DateMath.floorDiv(tm, 86_400_000) * 86_400_000)
            case "week": return .time(DateMath.floorDiv(tm, 86_400_000) * 86_400_000 - Int64(d.weekday) * 86_400_000)
            case "month": return .time(Int64(DateMath.days(d.year, d.month, 1)) * 86_400_000)
            case "year": return .time(Int64(DateMath.days(d.year, 1, 1)) * 86_400_000)
            default: return nil
            }
        }
        t["todate"] = fn(1...2) { a, c in
            if a.count == 1 {
                guard let v = first(a[0]) else { return nil }
                return DateMath.time(v, now: c.nowMs).map(QLValue.time)
            }
            guard let layout = str(a[0]), let text = str(a[1]) else { return nil }
            return GoLayout.parse(text, layout: layout).map(QLValue.time)
        }
        t["match"] = fn(1...Int.max) { a, c in
            var out: [String: QLValue] = [:]
            for p in a.compactMap({ str($0) }) where !p.isEmpty {
                for (k, v) in c.fields where k.hasPrefix(p) && k.count > p.count { out[String(k.dropFirst(p.count))] = v }
            }
            return out.isEmpty ? nil : .map(out)
        }
        t["url.matchqs"] = fn(1...Int.max) { a, _ in
            guard let s = str(a[0]), var u = WebFunctions.url(s), let host = u.host else { return nil }
            let patterns = a.dropFirst().compactMap { str($0) }.prefix(20).compactMap { try? NSRegularExpression(pattern: String($0.prefix(200))) }
            let kept = (u.queryItems ?? []).filter { item in
                patterns.contains { $0.firstMatch(in: item.name, range: NSRange(item.name.startIndex..., in: item.name)) != nil }
            }
            u.queryItems = kept.isEmpty ? nil : kept
            return .string(host + u.path + (u.percentEncodedQuery.map { "?" + $0 } ?? ""))
        }
        t["json.jmespath"] = fn(2...2) { a, _ in
            guard let text = str(a[0]), let path = str(a[1]), let json = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else { return nil }
            return JSONPath.select(json, path)
        }
    }

    /// `filter` / `filtermatch`: patterns with `*` or `%` are globs, others prefixes.
    static func filtered(_ a: [QLValue?], keep: Bool) -> QLValue? {
        guard let subject = a[0] else { return nil }
        let patterns = a.dropFirst().compactMap { str($0) }
        func hit(_ s: String) -> Bool {
            patterns.contains { p in
                if p.isEmpty { return s.isEmpty }
                if p.contains("*") || p.contains("%") { return Glob(p).matches(s) }
                return s.hasPrefix(p)
            }
        }
        switch subject {
        case .map(let m):
            let out = m.filter { hit($0.key) == keep }
            return out.isEmpty ? nil : .map(out)
        case .strings(let xs):
            let out = xs.filter { hit($0) == keep }
            return out.isEmpty ? nil : .strings(out)
        case .string(let s):
            return hit(s) == keep ? .string(s) : nil
        default:
            return nil
        }
    }
}

/// SipHash-2-4.
enum SipHash {
    static func hash24(_ data: [UInt8], k0: UInt64, k1: UInt64) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1
        func round() {
            v0 &+= v1; v1 = (v1 << 13) | (v1 >> 51); v1 ^= v0; v0 = (v0 << 32) | (v0 >> 32)
            v2 &+= v3; v3 = (v3 << 16) | (v3 >> 48); v3 ^= v2
            v0 &+= v3; v3 = (v3 << 21) | (v3 >> 43); v3 ^= v0
            v2 &+= v1; v1 = (v1 << 17) | (v1 >> 47); v1 ^= v2; v2 = (v2 << 32) | (v2 >> 32)
        }
        let blocks = data.count / 8
        for i in 0..<blocks {
            var m: UInt64 = 0
            for j in 0..<8 { m |= UInt64(data[i * 8 + j]) << (8 * UInt64(j)) }
            v3 ^= m
            round(); round()
            v0 ^= m
        }
        var last = UInt64(data.count & 0xff) << 56
        for j in 0..<(data.count % 8) { last |= UInt64(data[blocks * 8 + j]) << (8 * UInt64(j)) }
        v3 ^= last
        round(); round()
        v0 ^= last
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

/// `%`-directives for `extract` / `strftime` (UTC).
enum TimeFormat {
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    static func strftime(_ t: Int64, _ format: String) -> String {
        let c = DateMath.components(t)
        var out = ""
        var escape = false
        for ch in format {
            if !escape {
                if ch == "%" { escape = true } else { out.append(ch) }
                continue
            }
            escape = false
            switch ch {
            case "Y": out += String(c.year)
            case "y": out += String(format: "%02d", c.year % 100)
            case "m": out += String(format: "%02d", c.month)
            case "d": out += String(format: "%02d", c.day)
            case "H": out += String(format: "%02d", c.hour)
            case "I": out += String(format: "%02d", c.hour % 12 == 0 ? 12 : c.hour % 12)
            case "M": out += String(format: "%02d", c.minute)
            case "S": out += String(format: "%02d", c.second)
            case "p": out += c.hour < 12 ? "AM" : "PM"
            case "B": out += months[c.month - 1]
            case "b": out += String(months[c.month - 1].prefix(3))
            case "A": out += days[c.weekday]
            case "a": out += String(days[c.weekday].prefix(3))
            case "w": out += String(c.weekday)
            case "%": out += "%"
            default: out += "%" + String(ch)
            }
        }
        return out
    }
}

/// CIDR membership for IPv4 and IPv6.
enum IPNetwork {
    static func bytes(_ ip: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func contains(cidr: String, ip: String) -> Bool? {
        let parts = cidr.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let network = bytes(String(first)), let address = bytes(ip), network.count == address.count else { return nil }
        let bits = parts.count == 2 ? Int(parts[1]) : network.count * 8
        guard let bits, bits >= 0, bits <= network.count * 8 else { return nil }
        for i in 0..<network.count {
            let take = min(8, max(0, bits - i * 8))
            if take == 0 { break }
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if network[i] & mask != address[i] & mask { return false }
        }
        return true
    }
}

/// User-agent features by simple, documented heuristics (not a full UA database).
enum UserAgent {
    static func parse(_ ua: String) -> [String: String] {
        let lower = ua.lowercased()
        let bot = ["bot", "crawler", "spider", "slurp", "curl", "wget", "python-requests", "headless"].contains { lower.contains($0) }
        let mobile = ["mobile", "iphone", "android", "ipod", "windows phone"].contains { lower.contains($0) } && !lower.contains("ipad")
        let platform: String = lower.contains("iphone") ? "iPhone" : lower.contains("ipad") ? "iPad" : lower.contains("android") ? "Linux" :
            lower.contains("windows") ? "Windows" : lower.contains("macintosh") || lower.contains("mac os x") ? "Macintosh" : lower.contains("linux") ? "Linux" : ""
        let os: String = lower.contains("android") ? "Android" : lower.contains("iphone os") || lower.contains("cpu os") ? "iOS" :
            lower.contains("windows nt") ? "Windows" : lower.contains("mac os x") ? "Mac OS X" : lower.contains("linux") ? "Linux" : ""
        func version(after token: String) -> String {
            guard let r = ua.range(of: token) else { return "" }
            return String(ua[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        var browser = "", browserVersion = ""
        for (token, name) in [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Version/", "Safari")] where ua.contains(token) {
            browser = name
            browserVersion = version(after: token)
            break
        }
        var engine = "", engineVersion = ""
        for (token, name) in [("AppleWebKit/", "AppleWebKit"), ("Gecko/", "Gecko"), ("Trident/", "Trident")] where ua.contains(token) {
            engine = name
            engineVersion = version(after: token)
            break
        }
        return ["bot": String(bot), "mobile": String(mobile), "mozilla": version(after: "Mozilla/"), "platform": platform, "os": os,
                "engine": engine, "engine_version": engineVersion, "browser": browser, "browser_version": browserVersion]
    }
}

/// A subset of JMESPath: dotted fields, `[n]` indexes (negative from the end) and `[*]` projections.
enum JSONPath {
    static func select(_ root: Any, _ path: String) -> QLValue? {
        var current: [Any] = [root]
        var projected = false
        var i = path.startIndex
        while i < path.endIndex {
            if path[i] == "." { i = path.index(after: i); continue }
            if path[i] == "[" {
                guard let close = path[i...].firstIndex(of: "]") else { return nil }
                let inner = path[path.index(after: i)..<close]
                if inner == "*" {
                    current = current.flatMap { ($0 as? [Any]) ?? [] }
                    projected = true
                } else {
                    guard let n = Int(inner) else { return nil }
                    current = current.compactMap { v in
                        guard let a = v as? [Any] else { return nil }
                        let k = n < 0 ? a.count + n : n
                        return k >= 0 && k < a.count ? a[k] : nil
                    }
                }
                i = path.index(after: close)
                continue
            }
            let end = path[i...].firstIndex { $0 == "." || $0 == "[" } ?? path.endIndex
            let key = String(path[i..<end])
            current = current.compactMap { ($0 as? [String: Any])?[key] }
            i = end
        }
        if projected { return .list(current.compactMap(value)) }
        return current.first.flatMap(value)
    }

    static func value(_ v: Any) -> QLValue? {
        switch v {
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let n as NSNumber:
            let d = n.doubleValue
            return d == d.rounded() && abs(d) < 9e15 ? .int(Int64(d)) : .number(d)
        case let a as [Any]:
            let items = a.compactMap(value)
            return items.allSatisfy({ if case .string = $0 { true } else { false } }) ? .strings(items.map(\.stringForm)) : .list(items)
        case let o as [String: Any]: return .map(o.compactMapValues(value))
        default: return nil
        }
    }
}

/// Go reference-time layouts (`"02/01/2006"`, `"2006-01-02 15:04:05"`, `"Jan 2, 2006 3:04 PM"`).
enum GoLayout {
    static let tokens = ["January", "Jan", "2006", "06", "01", "02", "15", "03", "04", "05", "PM", ".000", "-0700", "1", "2", "3"]

    static func parse(_ text: String, layout: String) -> Int64? {
        let s = Array(text), l = Array(layout)
        var i = 0, j = 0
        var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0, offset = 0
        var pm: Bool?
        func number(_ maxDigits: Int) -> Int? {
            var n = 0, count = 0
            while i < s.count, count < maxDigits, let d = s[i].wholeNumberValue { n = n * 10 + d; i += 1; count += 1 }
            return count > 0 ? n : nil
        }
        outer: while j < l.count {
            for token in tokens where j + token.count <= l.count && String(l[j..<(j + token.count)]) == token {
                j += token.count
                switch token {
                case "2006": guard let v = number(4) else { return nil }; year = v
                case "06": guard let v = number(2) else { return nil }; year = 2000 + v
                case "01", "1": guard let v = number(2) else { return nil }; month = v
                case "02", "2": guard let v = number(2) else { return nil }; day = v
                case "15": guard let v = number(2) else { return nil }; hour = v
                case "03", "3": guard let v = number(2) else { return nil }; hour = v
                case "04": guard let v = number(2) else { return nil }; minute = v
                case "05": guard let v = number(2) else { return nil }; second = v
                case ".000":
                    guard i < s.count, s[i] == "." else { return nil }
                    i += 1
                    guard let v = number(3) else { return nil }
                    millis = v
                case "PM":
                    guard i + 2 <= s.count else { return nil }
                    let v = String(s[i..<(i + 2)]).uppercased()
                    guard v == "AM" || v == "PM" else { return nil }
                    pm = v == "PM"
                    i += 2
                case "-0700":
                    guard i + 5 <= s.count, s[i] == "+" || s[i] == "-" else { return nil }
                    let sign = s[i] == "-" ? -1 : 1
                    i += 1
                    guard let v = number(4) else { return nil }
                    offset = sign * ((v / 100) * 60 + v % 100)
                default: // month names
                    let names = TimeFormat.months
                    guard let k = names.firstIndex(where: { name in
                        let candidate = token == "Jan" ? String(name.prefix(3)) : name
                        return i + candidate.count <= s.count && String(s[i..<(i + candidate.count)]).lowercased() == candidate.lowercased()
                    }) else { return nil }
                    i += token == "Jan" ? 3 : names[k].count
                    month = k + 1
                }
                continue outer
            }
            guard i < s.count, s[i] == l[j] else { return nil }
            i += 1
            j += 1
        }
        guard i == s.count, (1...12).contains(month), (1...DateMath.daysIn(month, year)).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        if let pm { hour = hour % 12 + (pm ? 12 : 0) }
        let seconds = Int64(DateMath.days(year, month, day)) * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset * 60)
        return seconds * 1000 + Int64(millis)
    }
}
