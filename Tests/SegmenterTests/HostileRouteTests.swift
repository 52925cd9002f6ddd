import HTTP
import Log
import Model
import Pipeline
import Runtime
import Segmenter
import Testing
import TestSupport

/// Every route of the segmenter, over hostile paths, queries, headers and bodies: each answer is
/// a precise client error or a success — never a trap, never a 500.
@Suite struct SegmenterHostileRouteTests {
    @Test func everyRoute_answersHostileRequestsWithoutA500() async throws {
        let log = InMemoryLog(defaultPartitions: 4)
        try await log.makeAdmin().createTopics(PipelineTopics().specs(partitions: 4).map { TopicSpec(name: $0.name, partitions: $0.partitions) })
        let producer = try log.makeProducer(ProducerOptions())
        _ = try await producer.send(segmentDoc("s1", "us", "FILTER country == \"US\""))
        for i in 1...10 { _ = try await producer.send(profileRecord("p\(i)", version: 1, fields: ["country": i % 2 == 0 ? "US" : "FR"])) }
        var settings = SegmenterSettings()
        settings.adminToken = segToken
        let app = try SegmenterApp(client: log, settings: settings, logger: Logger(label: "t", level: .error, sink: MemorySink()), metrics: MetricsRegistry())
        let tasks = app.services.map { service in Task { try await service.run() } }
        for _ in 0..<500 where app.readiness != .ready { try await Task.sleep(for: .milliseconds(20)) }
        let (statuses, problems) = await Hostile.exercise(app.router, token: segToken, count: 1_500, seed: 73)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect((statuses[200] ?? 0) > 0 && (statuses[400] ?? 0) + (statuses[404] ?? 0) > 0, "\(statuses)")
        for t in tasks.reversed() {
            t.cancel()
            _ = try? await t.value
        }
    }
}
