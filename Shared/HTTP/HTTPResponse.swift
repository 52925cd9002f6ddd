import Runtime

/// A response to write. Handlers build it; the server adds Content-Length, Date and Connection.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The API's response shape: `{"status":200,"message":"ok","data":...}`.
    public static func json(_ status: Int, message: String? = nil, data: JSONValue? = nil,
                            headers extra: [(String, String)] = []) -> HTTPResponse {
        var envelope: [String: JSONValue] = ["status": .int(Int64(status)), "message": .string(message ?? HTTPStatus.reason(status).lowercased())]
        if let data { envelope["data"] = data }
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        for (k, v) in extra { headers.add(k, v) }
        return HTTPResponse(status: status, headers: headers, body: JSONValue.object(envelope).serializedBytes())
    }

    /// An error in the API's shape.
    public static func error(_ status: Int, _ message: String, headers: [(String, String)] = []) -> HTTPResponse {
        json(status, message: message, headers: headers)
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: Array(text.utf8))
    }
}

/// Reason phrases.
public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

/// Handlers may `throw` a response (typically an error response) from nested helpers; the
/// outermost handler returns it.
extension HTTPResponse: Error {}
