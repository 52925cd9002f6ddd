/// Handles one request. Handlers never throw: every failure is an HTTP response.
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// Maps method + path patterns (`/api/segment/{id}/size`) to handlers. Built once, then frozen
/// (it is a value: the server keeps its own copy).
public struct Router: Sendable {
    /// A handler that gets the whole body, or one that reads it as a stream.
    public enum Handler: Sendable {
        case buffered(HTTPHandler)
        case streaming(HTTPStreamingHandler)
    }

    struct Route: Sendable {
        var method: String
        var pattern: String
        var segments: [Segment]
        var handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        /// `{name...}` matches the rest of the path.
        case rest(String)
    }

    public enum Match {
        case found(Handler, parameters: [String: String], pattern: String)
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private var routes: [Route] = []

    public init() {}

    /// Every route as (method, pattern), in the order they were added.
    public var patterns: [(method: String, pattern: String)] { routes.map { ($0.method, $0.pattern) } }

    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping HTTPHandler) {
        add(method, pattern, handler: .buffered(handler))
    }

    /// A route whose body is not buffered: the handler reads it from an `HTTPBodyStream`, and
    /// the server's body-size limit does not apply (the handler bounds what it keeps).
    public mutating func addStreaming(_ method: String, _ pattern: String, _ handler: @escaping HTTPStreamingHandler) {
        add(method, pattern, handler: .streaming(handler))
    }

    mutating func add(_ method: String, _ pattern: String, handler: Handler) {
        precondition(pattern.hasPrefix("/"), "route patterns start with /")
        let segments: [Segment] = pattern.split(separator: "/").map { part in
            if part.hasPrefix("{"), part.hasSuffix("...}") { return .rest(String(part.dropFirst().dropLast(4))) }
            if part.hasPrefix("{"), part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method.uppercased(), pattern: pattern, segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add("GET", pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPHandler) { add("POST", pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping HTTPHandler) { add("PUT", pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { add("DELETE", pattern, handler) }

    /// Literal segments win over parameters when several routes match (routes are tried in
    /// order of specificity, then registration). `segments` are the request's path segments,
    /// each decoded (`HTTPRequest.pathSegments`).
    public func match(method: String, segments parts: [String]) -> Match {
        var allowed: [String] = []
        var best: (route: Route, params: [String: String], score: Int)?
        for route in routes {
            guard let (params, score) = Self.bind(route.segments, parts) else { continue }
            let methodMatches = route.method == method || (method == "HEAD" && route.method == "GET")
            if !methodMatches {
                allowed.append(route.method)
                continue
            }
            if best == nil || score > best!.score { best = (route, params, score) }
        }
        if let best { return .found(best.route.handler, parameters: best.params, pattern: best.route.pattern) }
        if !allowed.isEmpty { return .methodNotAllowed(allowed: Array(Set(allowed)).sorted()) }
        return .notFound
    }

    static func bind(_ segments: [Segment], _ parts: [String]) -> ([String: String], Int)? {
        var params: [String: String] = [:]
        var score = 0
        for (i, segment) in segments.enumerated() {
            switch segment {
            case .rest(let name):
                guard i < parts.count else { return nil }
                params[name] = parts[i...].joined(separator: "/")
                return (params, score)
            case .literal(let text):
                guard i < parts.count, parts[i] == text else { return nil }
                score += 2
            case .parameter(let name):
                guard i < parts.count, !parts[i].isEmpty else { return nil }
                params[name] = parts[i]
                score += 1
            }
        }
        return parts.count == segments.count ? (params, score) : nil
    }

    /// Runs the matching handler, or answers 404 / 405.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await route(request).response
    }

    /// The response and the matched pattern (for metrics; "unmatched" when none). A streaming
    /// route gets the buffered body as a one-chunk stream.
    public func route(_ request: HTTPRequest) async -> (response: HTTPResponse, pattern: String) {
        switch match(method: request.method, segments: request.pathSegments) {
        case .found(let handler, let parameters, let pattern):
            var request = request
            request.pathParameters = parameters
            switch handler {
            case .buffered(let h): return (await h(request), pattern)
            case .streaming(let h): return (await h(request, HTTPBodyStream(bytes: request.body)), pattern)
            }
        case .methodNotAllowed(let allowed):
            return (.error(405, "method \(request.method) not allowed on \(request.path)", headers: [("Allow", allowed.joined(separator: ", "))]), "unmatched")
        case .notFound:
            return (.error(404, "no route for \(request.method) \(request.path)"), "unmatched")
        }
    }
}
