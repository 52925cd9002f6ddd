import Foundation
import TestSupport
import Testing

/// The shortened fault test: scripts/chaos --quick against the debug binaries — a seeded workload
/// while daemons are killed (SIGKILL) and restarted and the broker is paused; nothing may be lost,
/// duplicated or out of order, and profiles and memberships must match the offline computation.
@Suite struct ChaosTests {
    @Test func killsAndBrokerPauses_loseNothing() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let result = try await ChildProcess.run(root + "/scripts/chaos", ["--quick", "--debug"],
                                                environment: ["CDP_CHAOS_NO_BUILD": "1"], timeout: 400)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((summary?["webhook transitions lost"] as? Int) == 0)
        let kills = summary?["kills"] as? [String: Int] ?? [:]
        #expect(kills.values.reduce(0, +) >= 3, "\(kills)")
    }
}
