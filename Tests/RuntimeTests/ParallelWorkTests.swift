import Runtime
import Synchronization
import Testing

@Suite struct ParallelWorkTests {
    static let cases: [(items: [Int], slots: Int, threads: Int)] = [
        ([], 4, 2),
        ([3], 4, 2),
        ([5, 0, 2, 7, 1], 8, 1),
        ([5, 0, 2, 7, 1], 8, 2),
        (Array((0..<100).reversed()), 120, 4),
        ([1, 2], 3, 8), // more threads than items
    ]

    @Test(arguments: cases.indices)
    func claiming_runsEachItemOnce_andIndexesResultsByItem(index: Int) {
        let c = Self.cases[index]
        let calls = Atomic<Int>(0)
        let results = ParallelWork.claiming(c.items, slots: c.slots, threads: c.threads) { item -> Int in
            calls.add(1, ordering: .relaxed)
            return item * 10
        }
        #expect(calls.load(ordering: .relaxed) == c.items.count)
        #expect(results.count == c.slots)
        for slot in 0..<c.slots {
            #expect(results[slot] == (c.items.contains(slot) ? slot * 10 : nil))
        }
    }

    @Test func map_keepsIndexOrder_aboveAndBelowTheInlineThreshold() {
        for count in [0, 10, 255, 256, 1000] {
            #expect(ParallelWork.map(count: count, threads: 3) { $0 * 2 } == (0..<count).map { $0 * 2 })
        }
        // Uneven chunks, more threads than chunks of work, and values that own storage.
        for (count, threads) in [(1001, 2), (257, 7), (300, 300), (1000, 1)] {
            let strings = ParallelWork.map(count: count, threads: threads) { "item number \($0) with a long enough text" }
            #expect(strings == (0..<count).map { "item number \($0) with a long enough text" })
        }
    }
}
