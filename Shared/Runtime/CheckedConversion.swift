extension Int64 {
    /// `value` rounded toward zero when it is finite and within Int64's range; nil otherwise.
    /// (`Int64(_: Double)` traps on NaN, infinities and out-of-range values, and numbers in
    /// events, profiles and query results are outside input: one such trap crashes a daemon on
    /// every replay of the record.)
    @inlinable
    public init?(checked value: Double) {
        guard value.isFinite, value >= -9_223_372_036_854_775_808.0, value < 9_223_372_036_854_775_808.0 else { return nil }
        self.init(value)
    }

    /// `self + other`, held at Int64's bounds instead of trapping on overflow.
    @inlinable
    public func clampedAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self * other`, held at Int64's bounds instead of trapping on overflow.
    @inlinable
    public func clampedMultiplied(by other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) == (other < 0) ? .max : .min) : product
    }
}
