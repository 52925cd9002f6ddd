import Foundation
import Runtime

/// What a delivery attempt came to.
public enum AttemptOutcome: Sendable, Equatable {
    case delivered
    /// Worth retrying (network error, 5xx, 408, 429); `afterMs` from `Retry-After`.
    case retry(reason: String, afterMs: Int64?)
    /// The destination refused the batch for good (other 4xx, unusable destination).
    case terminal(reason: String)

    /// Classifies an HTTP status and its `Retry-After` header (see `retryAfterMs`).
    public static func http(status: Int, retryAfter: String?, date: String? = nil, nowMs: Int64) -> AttemptOutcome {
        switch status {
        case 200..<300: return .delivered
        case 408, 429, 500...599:
            return .retry(reason: "HTTP \(status)", afterMs: retryAfter.flatMap { retryAfterMs($0, date: date, nowMs: nowMs) })
        default: return .terminal(reason: "HTTP \(status)")
        }
    }

    /// The longest wait a `Retry-After` can ask for (a day); longer asks are cut to it.
    public static let maxRetryAfterMs: Int64 = 86_400_000

    /// `Retry-After` as a wait in milliseconds: delay-seconds, or an HTTP date measured from the
    /// response's own `Date` when it has a readable one (the destination's clock, so a skewed
    /// local clock does not stretch or cut the wait), else from `nowMs`. A date in the past
    /// means no wait; waits are capped at `maxRetryAfterMs`; anything else is ignored (nil:
    /// the normal backoff applies).
    public static func retryAfterMs(_ text: String, date: String? = nil, nowMs: Int64) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if !t.isEmpty, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let s = Int64(t) else { return maxRetryAfterMs } // more digits than fit: a very long wait
            return min(s, maxRetryAfterMs / 1000) * 1000
        }
        guard let at = HTTPDate.parse(t, nowMs: nowMs) else { return nil }
        let from = date.flatMap { HTTPDate.parse($0.trimmingCharacters(in: .whitespaces), nowMs: nowMs) } ?? nowMs
        return min(max(0, at - from), maxRetryAfterMs)
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
