import Log
import Testing

@Suite struct PartitionerTests {
    /// Kafka's own murmur2 test vectors (the Java client's Utils.murmur2).
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", Int32(-790_332_482)),
        ("a-little-bit-long-string", Int32(-985_981_536)),
        ("a-little-bit-longer-string", Int32(-1_486_304_829)),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", Int32(-58_897_971)),
        ("abc", Int32(479_470_107)),
    ])
    func murmur2_matchesTheJavaClient(key: String, expected: Int32) {
        #expect(Int32(bitPattern: Partitioner.murmur2(Array(key.utf8))) == expected)
    }

    @Test func partition_isStableAndInRange() {
        for i in 0..<1000 {
            let p = Partitioner.partition(forKey: Array("k\(i)".utf8), count: 7)
            #expect((0..<7).contains(p))
            #expect(p == Partitioner.partition(forKey: Array("k\(i)".utf8), count: 7))
        }
    }
}
