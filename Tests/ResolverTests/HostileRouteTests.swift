import HTTP
import Log
import Model
import Resolver
import Runtime
import Testing
import TestSupport

/// Every route of the resolver, over hostile paths, queries, headers and bodies: each answer is
/// a precise client error or a success — never a trap, never a 500.
@Suite struct ResolverHostileRouteTests {
    @Test func everyRoute_answersHostileRequestsWithoutA500() async throws {
        let log = try await makeLog()
        try await send(log, webEvents(0..<40))
        let run = try ResolverRun(log: log)
        try await run.waitReady()
        try await waitUntil { !profilesView(log).isEmpty }
        let (statuses, problems) = await Hostile.exercise(run.app.router, token: resolverToken, count: 1_500, seed: 72)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect((statuses[200] ?? 0) > 0 && (statuses[404] ?? 0) > 0, "\(statuses)")
        await run.stop()
    }
}
