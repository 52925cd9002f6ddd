/// A query parameter that is present but not of the form its endpoint reads: answered with 400
/// and this message, never taken as the default (`?dryrun=yes` on a schema must not publish it).
public struct QueryParameterError: Error, Sendable, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The answer to the request.
    public var response: HTTPResponse { .error(400, message) }
}

extension HTTPRequest {
    /// A yes/no option: absent is false; `true`, `1` and a bare `?name` are true; `false` and
    /// `0` are false (any case); anything else is an error.
    public func flag(_ name: String) throws(QueryParameterError) -> Bool {
        guard let value = query(name) else { return false }
        switch value.lowercased() {
        case "", "true", "1": return true
        case "false", "0": return false
        default: throw QueryParameterError("\(name) must be true or false, not '\(value)'")
        }
    }

    /// A whole number within `range`: absent is `fallback`; anything else (not a number, out of
    /// range) is an error naming the range.
    public func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(QueryParameterError) -> Int {
        guard let value = query(name) else { return fallback }
        guard let n = Int(value), range.contains(n) else {
            throw QueryParameterError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
        }
        return n
    }
}
