import Model
import Runtime

/// Date math (`"now-3d"`, units y M w d h m s, one term, lower-case `now`) and permissive date
/// parsing, all against an explicit `now` (epoch ms).
public enum DateMath {
    /// The offset of a date-math string: (unit, signed amount), or nil if it is not date math.
    public static func parse(_ text: String) -> (unit: Character, amount: Int64)? {
        guard text.count > 3, text.hasPrefix("now") else { return nil }
        var rest = Substring(text.dropFirst(3))
        var sign: Int64 = 1
        if rest.first == "-" { sign = -1; rest = rest.dropFirst() } else if rest.first == "+" { rest = rest.dropFirst() }
        guard let unit = rest.last, "yMwdhms".contains(unit) else { return nil }
        let digits = rest.dropLast()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits), n <= 1_000_000 else { return nil }
        return (unit, sign * n)
    }

    /// `time` moved by `amount` units (calendar months and years; fixed lengths otherwise), held
    /// within years 1 to 9999 (`Timestamp.clampMs`: the time can be an event's own, outside input).
    public static func apply(_ time: Int64, unit: Character, amount: Int64) -> Int64 {
        Timestamp.clampMs(unclampedApply(Timestamp.clampMs(time), unit: unit, amount: amount))
    }

    static func unclampedApply(_ time: Int64, unit: Character, amount: Int64) -> Int64 {
        switch unit {
        case "s": return time.clampedAdding(amount.clampedMultiplied(by: 1000))
        case "m": return time.clampedAdding(amount.clampedMultiplied(by: 60_000))
        case "h": return time.clampedAdding(amount.clampedMultiplied(by: 3_600_000))
        case "d": return time.clampedAdding(amount.clampedMultiplied(by: 86_400_000))
        case "w": return time.clampedAdding(amount.clampedMultiplied(by: 604_800_000))
        case "M", "y":
            let months = unit == "y" ? amount.clampedMultiplied(by: 12) : amount
            let day = floorDiv(time, 86_400_000)
            let msOfDay = Timestamp.floorMod(time, 86_400_000)
            var (y, m, d) = civil(fromDays: day)
            var total = (Int64(y) * 12 + Int64(m - 1)).clampedAdding(months)
            // Past about ±10^15 years the day count itself would overflow: hold the time there.
            guard abs(total) < 12_000_000_000_000 else { return total > 0 ? .max : .min }
            y = Int(floorDiv(total, 12))
            total -= Int64(y) * 12
            m = Int(total) + 1
            d = min(d, daysIn(m, y))
            return Int64(days(y, m, d)).clampedMultiplied(by: 86_400_000).clampedAdding(msOfDay)
        default: return time
        }
    }

    /// The time a value denotes: date math against `now`, a date string, epoch digits, or a time.
    /// Times are held within years 1 to 9999 (`Timestamp.clampMs`).
    public static func time(_ value: QLValue, now: Int64) -> Int64? {
        switch value {
        case .time(let t): return Timestamp.clampMs(t)
        case .string(let s):
            if let (unit, amount) = parse(s) { return apply(now, unit: unit, amount: amount) }
            return parseDate(s)
        case .int(let i): return fromDigits(String(i))
        case .number(let d): return Int64(checked: d).flatMap { fromDigits(String($0)) }
        default: return nil
        }
    }

    /// Permissive parsing: RFC 3339 / ISO 8601, `yyyy-mm-dd[ hh:mm[:ss]]`, `mm/dd/yyyy`, epoch digits.
    public static func parseDate(_ text: String) -> Int64? {
        let s = text.trimmingSpaces()
        if s.allSatisfy({ $0.isASCII && $0.isNumber }) { return fromDigits(s) }
        if let ms = RFC3339.parseMs(s) { return ms }
        if let ms = RFC3339.parseMs(s.replacingFirstSpace() + (s.count == 19 ? "Z" : "")) { return ms }
        let parts = s.split(whereSeparator: { $0 == "-" || $0 == "/" || $0 == " " || $0 == ":" || $0 == "T" }).map(String.init)
        let nums = parts.compactMap { Int($0) }
        guard nums.count == parts.count, nums.count >= 3 else { return nil }
        let (y, m, d): (Int, Int, Int) = s.contains("/") ? (nums[2], nums[0], nums[1]) : (nums[0], nums[1], nums[2])
        guard (1...12).contains(m), (1...daysIn(m, y)).contains(d), y >= 1800, y <= 2200 else { return nil }
        var ms = Int64(days(y, m, d)) * 86_400_000
        if nums.count >= 5 {
            guard nums[3] < 24, nums[4] < 60 else { return nil }
            ms += Int64(nums[3] * 3_600_000 + nums[4] * 60_000)
            if nums.count >= 6 { ms += Int64(min(nums[5], 59) * 1000) }
        }
        return ms
    }

    /// Digit strings by length: 10 → epoch seconds, 13 → milliseconds (between 1800 and 2120).
    static func fromDigits(_ s: String) -> Int64? {
        guard let v = Int64(s) else { return nil }
        let ms: Int64
        switch s.count {
        case 13: ms = v
        case 9, 10: ms = v * 1000
        case 16: ms = v / 1000
        case 19: ms = v / 1_000_000
        default: return nil
        }
        let low: Int64 = -5_364_662_400_000 // 1800-01-01
        let high: Int64 = 4_733_510_400_000 // 2120-01-01
        return (low...high).contains(ms) ? ms : nil
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { Timestamp.floorDiv(a, b) }
    static func daysIn(_ month: Int, _ year: Int) -> Int { Timestamp.daysIn(month: month, year: year) }
    static func days(_ y: Int, _ m: Int, _ d: Int) -> Int { Timestamp.days(year: y, month: m, day: d) }
    static func civil(fromDays z: Int64) -> (Int, Int, Int) { Timestamp.civil(z) }

    /// (year, month 1-12, day, hour, minute, second, weekday 0 = Sunday) of a time.
    public static func components(_ t: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int) {
        let day = floorDiv(t, 86_400_000)
        let ms = Timestamp.floorMod(t, 86_400_000)
        let (y, m, d) = civil(fromDays: day)
        let weekday = Int(((day % 7) + 7 + 4) % 7) // 1970-01-01 was a Thursday
        return (y, m, d, Int(ms / 3_600_000), Int(ms / 60_000 % 60), Int(ms / 1000 % 60), weekday)
    }
}

extension String {
    func replacingFirstSpace() -> String {
        guard let i = firstIndex(of: " ") else { return self }
        var s = self
        s.replaceSubrange(i...i, with: "T")
        return s
    }
}
