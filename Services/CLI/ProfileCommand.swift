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
        if let fields { query.append("fields=\(fields)") }
        if let aid { query.append("aid=\(aid)") }
        let value = args[2].addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? args[2]
        let api = APIClient(base: url, token: token)
        try await api.printData("GET", "/api/entity/user/\(args[1])/\(value)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }
}
