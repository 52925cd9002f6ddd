import HTTP
import Runtime
import Testing
import TestSupport

/// Every route of the exporter, over hostile paths, queries, headers and bodies: each answer is
/// a precise client error or a success — never a trap, never a 500.
@Suite struct ExporterHostileRouteTests {
    @Test func everyRoute_answersHostileRequestsWithoutA500() async throws {
        let h = try await ExporterHarness()
        h.start()
        for _ in 0..<500 where h.app.readiness != .ready { try await Task.sleep(for: .milliseconds(20)) }
        let (statuses, problems) = await Hostile.exercise(h.app.router, token: exportToken, count: 1_500, seed: 74)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect((statuses[200] ?? 0) > 0 && (statuses[404] ?? 0) > 0, "\(statuses)")
        await h.stop()
    }
}
