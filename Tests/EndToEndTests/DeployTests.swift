import Foundation
import TestSupport
import Testing

/// deploy/ cannot run here (no Docker engine, no cluster); scripts/check-deploy validates what
/// can be: YAML shape, commands vs. products, CDP_* names vs. what the code reads, KRaft settings,
/// health checks and probes, and the Dockerfile's packages and products.
@Suite struct DeployTests {
    @Test func composeKubernetesAndDockerfileAreConsistentWithTheBuild() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let python = try #require(which("python3"))
        let result = try await ChildProcess.run(python, [root + "/scripts/check-deploy"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("deploy: ok"))
        #expect(result.stdout.contains("cdp-exporter"))
    }
}
