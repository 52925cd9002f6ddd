import Collector
import Foundation
import Testing

/// The sample files the README's by-hand tour sends are accepted whole.
@Suite struct SampleFilesTests {
    static func sample(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/samples/\(name)"), encoding: .utf8)
    }

    @Test func tourSamples_areAcceptedWhole() async throws {
        let fx = try await CollectorFixture()
        let pageviews = await fx.call("POST", "/collect/json/web", body: try Self.sample("pageviews.ndjson"), headers: [("Content-Type", "application/x-ndjson")])
        #expect(pageviews.status == 200 && pageviews.json["data"]?["accepted"] == 10 && pageviews.json["data"]?["rejected"] == 0, "\(pageviews.json)")
        let crm = await fx.call("POST", "/collect/bulk/crm", body: try Self.sample("crm.csv"), headers: [("Content-Type", "text/csv")])
        #expect(crm.status == 200 && crm.json["data"]?["accepted"] == 3 && crm.json["data"]?["rejected"] == 0, "\(crm.json)")
    }
}
