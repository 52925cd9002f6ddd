import Foundation
import HTTP
import Model
import Runtime

/// Talks to the collector's HTTP API with `CDP_URL` and `CDP_TOKEN`.
struct APIClient {
    let base: String
    let token: String?
    let http = HTTPClient(timeoutSeconds: 60)

    init(base: String, token: String?) {
        self.base = base.trimmingSuffix("/")
        self.token = token
    }

    init(_ context: inout CLIContext) {
        base = context.reader.string(env: "CDP_URL", flag: "--url", default: "http://127.0.0.1:8080").trimmingSuffix("/")
        token = context.reader.optionalString(env: "CDP_TOKEN", flag: "--token")
    }

    /// Sends a request; returns (status, parsed body, Retry-After seconds).
    func call(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json") async throws -> (status: Int, json: JSONValue, retryAfter: Int?) {
        var headers: [(String, String)] = [("Content-Type", contentType)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let response: HTTPClientResponse
        do {
            response = try await http.send(method, base + path, headers: headers, body: body)
        } catch {
            throw CommandFailure(message: "cannot reach \(base): \(error)", code: 69)
        }
        let json = (try? JSONParser().parse(response.body)) ?? .null
        return (response.status, json, response.header("Retry-After").flatMap { Int($0) })
    }

    /// Calls and prints `data` as one JSON line per item (or the object), failing on errors.
    func printData(_ method: String, _ path: String, body: JSONValue? = nil) async throws {
        let r = try await call(method, path, body: body?.serializedBytes())
        guard (200..<300).contains(r.status) else {
            throw CommandFailure(message: "HTTP \(r.status): \(r.json["message"]?.stringValue ?? "no message")", code: r.status == 401 || r.status == 403 ? 77 : 1)
        }
        switch r.json["data"] {
        case .array(let items)?: for item in items { print(item.serialized()) }
        case let value?: print(value.serialized())
        case nil: print(r.json["message"]?.stringValue ?? "ok")
        }
    }
}

extension String {
    /// The string percent-encoded as one path segment: `/` too (a value may hold one: `org/42`).
    var urlSegment: String { percentEncoded(.urlPathAllowed) }
    /// The string percent-encoded as one query value (`&`, `=`, `+` too).
    var urlQueryValue: String { percentEncoded(.urlQueryAllowed) }

    private func percentEncoded(_ allowed: CharacterSet) -> String {
        addingPercentEncoding(withAllowedCharacters: allowed.subtracting(CharacterSet(charactersIn: "/&=+?#"))) ?? self
    }

    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}

/// `cdp account create|list|get`.
enum AccountCommand {
    static let usage = """
    usage: cdp account create ID [--name NAME]
           cdp account list
           cdp account get ID
    Uses CDP_URL (--url, default http://127.0.0.1:8080) and CDP_TOKEN (--token).
    """

    static func run(_ context: inout CLIContext) async throws {
        let api = APIClient(&context)
        let name = context.reader.optionalString(flag: "--name")
        try context.finish()
        let args = context.reader.positional
        switch (args.first, args.count) {
        case ("create", 2):
            var body: [String: JSONValue] = ["id": .string(args[1])]
            if let name { body["name"] = .string(name) }
            try await api.printData("POST", "/api/account", body: .object(body))
        case ("list", 1): try await api.printData("GET", "/api/account")
        case ("get", 2): try await api.printData("GET", "/api/account/\(args[1])")
        default: throw UsageError(message: "expected create ID, list, or get ID")
        }
    }
}

/// `cdp apikey create|list|revoke`.
enum APIKeyCommand {
    static let usage = """
    usage: cdp apikey create --name NAME --roles collect,read,admin [--aid ACCOUNT]
           cdp apikey list [--aid ACCOUNT]
           cdp apikey revoke ID [--aid ACCOUNT]
    The token is printed once, at creation. Uses CDP_URL and CDP_TOKEN.
    """

    static func run(_ context: inout CLIContext) async throws {
        let api = APIClient(&context)
        let name = context.reader.optionalString(flag: "--name")
        let roles = context.reader.optionalString(flag: "--roles")
        let aid = context.reader.optionalString(flag: "--aid")
        try context.finish()
        let args = context.reader.positional
        let query = aid.map { "?aid=\($0)" } ?? ""
        switch (args.first, args.count) {
        case ("create", 1):
            guard let name, let roles else { throw UsageError(message: "create needs --name and --roles") }
            var body: [String: JSONValue] = ["name": .string(name), "roles": .array(roles.split(separator: ",").map { .string(String($0)) })]
            if let aid { body["aid"] = .string(aid) }
            try await api.printData("POST", "/api/apikey", body: .object(body))
        case ("list", 1): try await api.printData("GET", "/api/apikey\(query)")
        case ("revoke", 2): try await api.printData("DELETE", "/api/apikey/\(args[1])\(query)")
        default: throw UsageError(message: "expected create, list, or revoke ID")
        }
    }
}
