import Foundation

/// What a delivery attempt came to.
public enum AttemptOutcome: Sendable, Equatable {
    case delivered
    /// Worth retrying (network error, 5xx, 408, 429); `afterMs` from `Retry-After`.
    case retry(reason: String, afterMs: Int64?)
    /// The destination refused the batch for good (other 4xx, unusable destination).
    case terminal(reason: String)

    /// Classifies an HTTP status (and its `Retry-After` header).
    public static func http(status: Int, retryAfter: String?) -> AttemptOutcome {
        switch status {
        case 200..<300: return .delivered
        case 408, 429, 500...599:
            return .retry(reason: "HTTP \(status)", afterMs: retryAfter.flatMap(parseRetryAfter))
        default: return .terminal(reason: "HTTP \(status)")
        }
    }

    /// `Retry-After` as delay-seconds (HTTP dates are not honoured; the normal backoff applies).
    public static func parseRetryAfter(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let s = Int64(t), s >= 0, s <= 86_400 else { return nil }
        return s * 1000
    }
}

/// Exponential backoff with jitter between `baseMs` and `maxMs`, within a total budget.
public struct RetryPolicy: Sendable, Equatable {
    public var baseMs: Int64
    public var maxMs: Int64

    public init(baseMs: Int64 = 1000, maxMs: Int64 = 300_000) {
        self.baseMs = baseMs
        self.maxMs = maxMs
    }

    /// The wait before retry number `attempt` (0 = first retry): base·2^attempt capped at max,
    /// scaled by a jitter factor in [0.5, 1) (`random` in [0, 1)); a `Retry-After` wins when it
    /// is longer, still capped at max.
    public func delayMs(attempt: Int, retryAfterMs: Int64?, random: Double) -> Int64 {
        let exponent = min(attempt, 30)
        let raw = min(maxMs, baseMs.multipliedReportingOverflow(by: Int64(1) << exponent).overflow ? maxMs : baseMs << exponent)
        let jittered = max(1, Int64(Double(raw) * (0.5 + min(max(random, 0), 0.999_999) / 2)))
        if let retryAfterMs { return min(maxMs, max(jittered, retryAfterMs)) }
        return jittered
    }
}
