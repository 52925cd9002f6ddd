import Foundation
import Runtime

/// `cdp profile get FIELD VALUE`: the resolver's entity API.
enum ProfileCommand {
    static let usage = """
    usage: cdp profile get FIELD VALUE [--explain] [--fields a,b] [--aid ACCOUNT]
    Asks the resolver (CDP_RESOLVER_URL, --resolver-url, default http://127.0.0.1:8081) with CDP_TOKEN.
    """

    static func run(_ context: inout CLIContext) async throws {
        let url = context.reader.string(env: "CDP_RESOLVER_URL", flag: "--resolver-url", default: "http://127.0.0.1:8081")
        let token = context.reader.optionalString(env: "CDP_TOKEN", flag: "--token")
        let explain = context.reader.bool(flag: "--explain", default: false)
        let fields = context.reader.optionalString(flag: "--fields")
        let aid = context.reader.optionalString(flag: "--aid")
        try context.finish()
        let args = context.reader.positional
        guard args.count == 3, args[0] == "get" else { throw UsageError(message: "expected: get FIELD VALUE") }
        var query: [String] = []
        if explain { query.append("explain=true") }
        if let fields { query.append("fields=\(Self.encoded(fields, .urlQueryAllowed))") }
        if let aid { query.append("aid=\(Self.encoded(aid, .urlQueryAllowed))") }
        let path = "/api/entity/user/\(Self.encoded(args[1], .urlPathAllowed))/\(Self.encoded(args[2], .urlPathAllowed))"
        let api = APIClient(base: url, token: token)
        try await api.printData("GET", path + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    /// `text` percent-encoded as one path segment or query value: besides what `allowed` leaves
    /// out, `/` (a value may hold one: `org/42`), `&`, `=`, `+`, `?` and `#` are encoded.
    static func encoded(_ text: String, _ allowed: CharacterSet) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed.subtracting(CharacterSet(charactersIn: "/&=+?#"))) ?? text
    }
}
