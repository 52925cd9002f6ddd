import Log
import Testing

@Suite struct PartitionRunsTests {
    static func records(_ coordinates: [(String, Int32)]) -> [ConsumerRecord] {
        coordinates.enumerated().map { i, c in
            ConsumerRecord(topic: c.0, partition: c.1, offset: Int64(i), key: nil, value: nil, headers: [], timestampMs: 0)
        }
    }

    /// Runs cover every record once, in order, each of one partition, and a run ends where the
    /// partition (or the topic, same partition number) changes.
    @Test(arguments: [
        ([], []),
        ([("t", 0)], [0..<1]),
        ([("t", 0), ("t", 0), ("t", 1), ("t", 1), ("t", 1)], [0..<2, 2..<5]),
        ([("t", 0), ("t", 1), ("t", 0)], [0..<1, 1..<2, 2..<3]),
        ([("a", 0), ("b", 0), ("b", 0), ("a", 0)], [0..<1, 1..<3, 3..<4]),
    ] as [([(String, Int32)], [Range<Int>])])
    func runsFollowThePartitions(coordinates: [(String, Int32)], expected: [Range<Int>]) {
        let records = Self.records(coordinates)
        let runs = records.partitionRuns
        #expect(runs.map(\.range) == expected)
        for (tp, range) in runs {
            #expect(records[range].allSatisfy { $0.topicPartition == tp })
        }
    }
}
