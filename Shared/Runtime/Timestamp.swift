import Foundation

/// Time formatting and parsing helpers (RFC 3339 / epoch milliseconds).
public enum Timestamp {
    /// `date` as `2026-11-29T10:00:00.123Z`.
    public static func rfc3339Millis(_ date: Date) -> String {
        rfc3339Millis(epochMs: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public static func rfc3339Millis(epochMs: Int64) -> String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        appendRFC3339Millis(epochMs: epochMs, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `2026-11-29T10:00:00.000Z` (formatted by hand: String(format:) goes through
    /// CFString and dominated profiles; this allocates nothing).
    public static func appendRFC3339Millis(epochMs: Int64, to out: inout [UInt8]) {
        // Written in a buffer on the stack, then appended in one go (24 bytes, always).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            let n = writeRFC3339Millis(epochMs: epochMs, into: buffer)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Writes `2026-11-29T10:00:00.000Z` at the start of `buffer` (at least 24 bytes); returns
    /// the number of bytes written (24).
    public static func writeRFC3339Millis(epochMs: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(buffer.count >= 24, "an RFC 3339 time needs 24 bytes")
        let days = floorDiv(epochMs, 86_400_000)
        let msOfDay = Int(floorMod(epochMs, 86_400_000))
        let (y, m, d) = civil(days)
        var at = 0
        func digits(_ v: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var x = v
            if x >= divisor * 10 || x < 0 { x = ((x % (divisor * 10)) + divisor * 10) % (divisor * 10) }
            while divisor > 0 {
                buffer[at] = UInt8(0x30 + x / divisor % 10)
                at += 1
                divisor /= 10
            }
        }
        func char(_ c: UInt8) {
            buffer[at] = c
            at += 1
        }
        digits(y, 4); char(0x2D); digits(m, 2); char(0x2D); digits(d, 2); char(0x54)
        digits(msOfDay / 3_600_000, 2); char(0x3A); digits(msOfDay / 60_000 % 60, 2); char(0x3A)
        digits(msOfDay / 1000 % 60, 2); char(0x2E); digits(msOfDay % 1000, 3); char(0x5A)
        return at
    }

    /// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
    public static func days(year y0: Int, month m: Int, day d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// Days in `month` (1-12) of `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The civil date (year, month, day) of a day number since 1970-01-01.
    public static func civil(_ z0: Int64) -> (Int, Int, Int) {
        let z = Int(z0) + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }

    /// Milliseconds since the epoch for the wall clock (only for I/O edges, never inside state transitions).
    public static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the times RFC 3339 can write.
    public static let minMs: Int64 = -62_135_596_800_000
    public static let maxMs: Int64 = 253_402_300_799_999

    /// `ms` held within `minMs...maxMs` (date math on outside input can leave that range;
    /// calendar arithmetic past it would overflow).
    public static func clampMs(_ ms: Int64) -> Int64 { min(max(ms, minMs), maxMs) }

    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// `a` modulo `b` (b > 0) in 0..<b, without overflow at Int64's edges (`a - floorDiv(a, b) * b`
    /// overflows for Int64.min).
    public static func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
        let r = a % b
        return r < 0 ? r + b : r
    }
}
