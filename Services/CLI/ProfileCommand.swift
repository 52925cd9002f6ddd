import Foundation
import Runtime

/// `cdp profile get|delete FIELD VALUE`: the resolver's entity API, and GDPR deletion requests
/// through the collector.
enum ProfileCommand {
    static let usage = """
    usage: cdp profile get FIELD VALUE [--explain] [--fields a,b] [--aid ACCOUNT]
           cdp profile delete FIELD VALUE [--wait SECONDS] [--aid ACCOUNT]
    get asks the resolver (CDP_RESOLVER_URL, --resolver-url, default http://127.0.0.1:8081);
    delete asks the collector (CDP_URL, --url, default http://127.0.0.1:8080; admin role) to erase
    the profile holding the value and prints the request, then with --wait follows it on the
    resolver until it is done (exit 75 if it is still pending then). Both use CDP_TOKEN.
    """

    static func run(_ context: inout CLIContext) async throws {
        let url = context.reader.string(env: "CDP_RESOLVER_URL", flag: "--resolver-url", default: "http://127.0.0.1:8081")
        let collector = APIClient(&context)
        let explain = context.reader.bool(flag: "--explain", default: false)
        let fields = context.reader.optionalString(flag: "--fields")
        let aid = context.reader.optionalString(flag: "--aid")
        let wait = context.reader.int(flag: "--wait", default: 0, range: 0...3600)
        try context.finish()
        let args = context.reader.positional
        guard args.count == 3, args[0] == "get" || args[0] == "delete" else { throw UsageError(message: "expected: get FIELD VALUE, or delete FIELD VALUE") }
        let resolver = APIClient(base: url, token: collector.token)
        let path = "/api/entity/user/\(args[1].urlSegment)/\(args[2].urlSegment)"
        let account = aid.map { "aid=\($0.urlQueryValue)" }
        if args[0] == "delete" {
            let r = try await collector.call("DELETE", path + (account.map { "?" + $0 } ?? ""))
            guard r.status == 202, let id = r.json["data"]?["request_id"]?.stringValue else {
                throw CommandFailure(message: "HTTP \(r.status): \(r.json["message"]?.stringValue ?? "no message")", code: r.status == 401 || r.status == 403 ? 77 : 1)
            }
            print(r.json["data"]!.serialized())
            guard wait > 0 else { return }
            let deadline = Date().addingTimeInterval(Double(wait))
            while true {
                let status = try await resolver.call("GET", "/api/entity/deletion/\(id)" + (account.map { "?" + $0 } ?? ""))
                if status.json["data"]?["status"] == "done" {
                    print(status.json["data"]!.serialized())
                    return
                }
                if Date() > deadline { throw CommandFailure(message: "deletion \(id) still pending after \(wait) s", code: 75) }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        var query: [String] = []
        if explain { query.append("explain=true") }
        if let fields { query.append("fields=\(fields.urlQueryValue)") }
        if let account { query.append(account) }
        try await resolver.printData("GET", path + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }
}
