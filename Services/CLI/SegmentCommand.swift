import Foundation
import Runtime

/// `cdp segment create|list|size|members|preview`.
enum SegmentCommand {
    static let usage = """
    usage: cdp segment create SLUG --name NAME (--filterql TEXT | --file FILE) [--id ID] [--aid A]
           cdp segment list [--aid A]
           cdp segment size ID [--aid A]
           cdp segment members ID [--limit N] [--aid A]
           cdp segment preview (--filterql TEXT | --file FILE) [--aid A]
    create/list talk to the collector (CDP_URL); size/members/preview to the segmenter
    (CDP_SEGMENTER_URL, --segmenter-url, default http://127.0.0.1:8082). CDP_TOKEN authenticates.
    """

    static func run(_ context: inout CLIContext) async throws {
        let collector = APIClient(&context)
        let segmenterURL = context.reader.string(env: "CDP_SEGMENTER_URL", flag: "--segmenter-url", default: "http://127.0.0.1:8082")
        let name = context.reader.optionalString(flag: "--name")
        let filterText = context.reader.optionalString(flag: "--filterql")
        let file = context.reader.optionalString(flag: "--file")
        let id = context.reader.optionalString(flag: "--id")
        let aid = context.reader.optionalString(flag: "--aid")
        let limit = context.reader.int(flag: "--limit", default: 100, range: 1...1000)
        try context.finish()
        let segmenter = APIClient(base: segmenterURL, token: collector.token)
        let query = aid.map { "aid=\($0)" }
        func path(_ p: String, _ extra: [String] = []) -> String {
            let q = ([query].compactMap { $0 } + extra).joined(separator: "&")
            return q.isEmpty ? p : p + "?" + q
        }
        func filterQL() throws -> String {
            if let filterText { return filterText }
            guard let file, let data = FileManager.default.contents(atPath: file) else { throw UsageError(message: "give --filterql TEXT or --file FILE") }
            return String(decoding: data, as: UTF8.self)
        }
        let args = context.reader.positional
        switch (args.first, args.count) {
        case ("create", 2):
            guard let name else { throw UsageError(message: "create needs --name") }
            var body: [String: JSONValue] = ["slug": .string(args[1]), "name": .string(name), "filterql": .string(try filterQL())]
            if let id { body["id"] = .string(id) }
            try await collector.printData("POST", path("/api/segment"), body: .object(body))
        case ("list", 1): try await collector.printData("GET", path("/api/segment"))
        case ("size", 2): try await segmenter.printData("GET", path("/api/segment/\(args[1])/size"))
        case ("members", 2): try await segmenter.printData("GET", path("/api/segment/\(args[1])/members", ["limit=\(limit)"]))
        case ("preview", 1): try await segmenter.printData("POST", path("/api/segment/preview"), body: ["filterql": .string(try filterQL())])
        default: throw UsageError(message: "expected create SLUG, list, size ID, members ID or preview")
        }
    }
}
