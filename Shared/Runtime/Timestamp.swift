import Foundation

/// Time formatting and parsing helpers (RFC 3339 / epoch milliseconds).
public enum Timestamp {
    /// `date` as `2026-11-29T10:00:00.123Z`.
    public static func rfc3339Millis(_ date: Date) -> String {
        rfc3339Millis(epochMs: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public static func rfc3339Millis(epochMs: Int64) -> String {
        let seconds = Int(floorDiv(epochMs, 1000))
        let millis = Int(epochMs - Int64(seconds) * 1000)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }

    /// Milliseconds since the epoch for the wall clock (only for I/O edges, never inside state transitions).
    public static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
