import Foundation

/// A complete request as handlers see it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent (path and query).
    public var target: String
    /// The decoded path without the query.
    public var path: String
    /// The path's segments, each decoded on its own: an encoded `/` (`%2F`) stays inside its
    /// segment, so a path parameter can hold any value (`/api/entity/user/user_id/org%2F42`).
    public var pathSegments: [String]
    /// Query parameters in order (decoded; `+` is a space).
    public var queryItems: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Values of `{name}` segments of the matched route.
    public var pathParameters: [String: String] = [:]

    public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = String(parts[0])
        self.path = rawPath.contains("%") ? (rawPath.removingPercentEncoding ?? rawPath) : rawPath
        self.pathSegments = Self.segments(ofRawPath: rawPath)
        self.queryItems = parts.count > 1 ? Self.parseQuery(String(parts[1])) : []
    }

    /// The first value of query parameter `name`.
    public func query(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    public subscript(parameter name: String) -> String? { pathParameters[name] }

    /// The non-empty segments of a path as sent, each percent-decoded (kept as sent if it is not
    /// valid percent-encoding).
    static func segments(ofRawPath rawPath: String) -> [String] {
        rawPath.split(separator: "/", omittingEmptySubsequences: true).map { part in
            part.contains("%") ? (part.removingPercentEncoding ?? String(part)) : String(part)
        }
    }

    static func parseQuery(_ query: String) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }
}
