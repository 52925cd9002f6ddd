import Model
import Testing

@Suite struct PipelineTopicsTests {
    @Test func namesCarryThePrefix() {
        let topics = PipelineTopics(prefix: "acme-")
        #expect(topics.events == "acme-events")
        #expect(topics.specs(partitions: 8).map(\.name) == ["acme-events", "acme-config", "acme-profiles", "acme-memberships", "acme-exports", "acme-deadletter"])
    }

    @Test func stateTopicsAreCompacted_andConfigHasOnePartition() {
        let specs = Dictionary(uniqueKeysWithValues: PipelineTopics().specs(partitions: 6).map { ($0.name, $0) })
        #expect(specs["cdp.config"]?.partitions == 1)
        #expect(specs["cdp.events"]?.partitions == 6)
        for name in ["cdp.config", "cdp.profiles", "cdp.memberships"] {
            #expect(specs[name]?.configs["cleanup.policy"] == "compact")
        }
        #expect(specs["cdp.events"]?.configs.isEmpty == true)
    }

    @Test(arguments: [("cdp.", true), ("my_app-1.", true), ("", true), ("bad prefix", false), ("ü", false), (String(repeating: "a", count: 201), false)])
    func prefixValidation(prefix: String, valid: Bool) {
        #expect(PipelineTopics.isValidPrefix(prefix) == valid)
    }
}
