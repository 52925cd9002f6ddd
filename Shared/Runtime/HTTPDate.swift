/// HTTP dates (RFC 9110 §5.6.7), as `Retry-After` and `Date` carry them. A recipient must accept
/// all three forms; senders use the first:
///
///     Sun, 06 Nov 1994 08:49:37 GMT     IMF-fixdate
///     Sunday, 06-Nov-94 08:49:37 GMT    obsolete RFC 850 (two-digit year)
///     Sun Nov  6 08:49:37 1994          obsolete asctime
///
/// Pure: no locale, no clock (a two-digit year is placed relative to `nowMs`).
public enum HTTPDate {
    /// Milliseconds since the epoch, or nil if `text` is not an HTTP date (or names a day that
    /// does not exist). The weekday must be a weekday name but is not checked against the date
    /// (RFC 9110 lets recipients ignore it).
    public static func parse(_ text: String, nowMs: Int64) -> Int64? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = tokens.first else { return nil }
        if first.hasSuffix(",") {
            let weekday = String(first.dropLast())
            if tokens.count == 6, shortDays.contains(weekday), tokens[5] == "GMT" {
                // IMF-fixdate: day month year time GMT
                guard tokens[1].count == 2, let day = digits(tokens[1]), let month = month(tokens[2]),
                      tokens[3].count == 4, let year = digits(tokens[3]) else { return nil }
                return epochMs(year: year, month: month, day: day, clock: tokens[4])
            }
            if tokens.count == 4, longDays.contains(weekday), tokens[3] == "GMT" {
                // RFC 850: day-month-yy time GMT
                let parts = tokens[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3, parts[0].count == 2, let day = digits(parts[0]), let month = month(parts[1]),
                      parts[2].count == 2, let yy = digits(parts[2]) else { return nil }
                return epochMs(year: fullYear(yy, nowMs: nowMs), month: month, day: day, clock: tokens[2])
            }
            return nil
        }
        // asctime: weekday month day time year (the day padded with a space when one digit)
        guard tokens.count == 5, shortDays.contains(first), let month = month(tokens[1]),
              (1...2).contains(tokens[2].count), let day = digits(tokens[2]),
              tokens[4].count == 4, let year = digits(tokens[4]) else { return nil }
        return epochMs(year: year, month: month, day: day, clock: tokens[3])
    }

    /// `ms` as an IMF-fixdate (seconds truncated), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(_ ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let second = Int(seconds - days * 86_400)
        let (year, month, day) = Timestamp.civil(days)
        let weekday = weekdayNames[Int(((days + 4) % 7 + 7) % 7)] // 1970-01-01 was a Thursday
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yyyy = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(weekday), \(two(day)) \(months[month - 1]) \(yyyy) \(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60)) GMT"
    }

    static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let shortDays: Set<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    static let longDays: Set<String> = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// A number written in ASCII digits only (no sign, no spaces).
    static func digits<S: StringProtocol>(_ text: S) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    static func month(_ name: String) -> Int? {
        months.firstIndex(of: name).map { $0 + 1 }
    }

    /// A two-digit year: the one with those last digits that is not more than 50 years after now.
    static func fullYear(_ yy: Int, nowMs: Int64) -> Int {
        let (nowYear, _, _) = Timestamp.civil(nowMs >= 0 ? nowMs / 86_400_000 : (nowMs - 86_399_999) / 86_400_000)
        var year = nowYear - nowYear % 100 + yy
        if year > nowYear + 50 { year -= 100 }
        return year
    }

    /// `clock` is hh:mm:ss (two digits each; a leap second 60 is accepted as RFC 9110 allows).
    static func epochMs(year: Int, month: Int, day: Int, clock: String) -> Int64? {
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }),
              let h = digits(parts[0]), let m = digits(parts[1]), let s = digits(parts[2]),
              (0...23).contains(h), (0...59).contains(m), (0...60).contains(s),
              (1...9999).contains(year), (1...Timestamp.daysIn(month: month, year: year)).contains(day) else { return nil }
        let days = Int64(Timestamp.days(year: year, month: month, day: day))
        return ((days * 24 + Int64(h)) * 60 + Int64(m)) * 60_000 + Int64(s) * 1000
    }
}
