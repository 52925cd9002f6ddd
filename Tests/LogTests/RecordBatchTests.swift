import Log
import Testing

@Suite struct RecordBatchTests {
    @Test func recordsAreRangesOfOneBuffer_copiedOutOnRequest() {
        var batch = RecordBatch(topic: "t")
        #expect(batch.isEmpty && batch.records.isEmpty)
        let first = batch.write(Array("v1".utf8))
        let dropped = batch.write { $0 += Array("replaced".utf8) }
        let second = batch.write { $0 += Array("v2".utf8) }
        batch.append(key: batch.write(Array("k1".utf8)), value: first)
        batch.append(key: batch.write(Array("k2".utf8)), value: second)
        batch.append(key: batch.write([]), value: batch.write([])) // empty key and value
        #expect(dropped == 2..<10)
        #expect(batch.count == 3)
        #expect(String(decoding: batch.bytes, as: UTF8.self) == "v1replacedv2k1k2")
        #expect(batch.records == [ProducerRecord(topic: "t", key: Array("k1".utf8), value: Array("v1".utf8)),
                                  ProducerRecord(topic: "t", key: Array("k2".utf8), value: Array("v2".utf8)),
                                  ProducerRecord(topic: "t", key: [UInt8](), value: [UInt8]())])
        #expect(batch.record(at: 1).value == Array("v2".utf8))
    }

    @Test func failedRecords_areFoundInEnqueueOrder() {
        var batch = RecordBatch(topic: "b")
        for i in 0..<3 { batch.append(key: batch.write(Array("k\(i)".utf8)), value: batch.write(Array("v\(i)".utf8))) }
        let loose = [ProducerRecord(topic: "r", key: "a", value: "1"), ProducerRecord(topic: "r", key: "b", value: "2")]
        let ok = Result<RecordMetadata, LogError>.success(RecordMetadata(topic: "b", partition: 0, offset: 0))
        let bad = Result<RecordMetadata, LogError>.failure(.closed)
        let cases: [([Result<RecordMetadata, LogError>], [String])] = [
            ([ok, ok, ok, ok, ok], []),
            ([bad, ok, ok, ok, ok], ["a"]),
            ([ok, bad, ok, bad, ok], ["b", "k1"]),
            ([bad, bad, bad, bad, bad], ["a", "b", "k0", "k1", "k2"]),
        ]
        for (results, expected) in cases {
            let failed = RecordBatch.failed(results, records: loose, batches: [batch])
            #expect(failed.map { String(decoding: $0.record.key ?? [], as: UTF8.self) } == expected)
            #expect(failed.allSatisfy { $0.error == .closed })
        }
        #expect(RecordBatch.failed([bad, ok, ok, ok, bad], records: loose, batches: [batch]).last?.record == batch.record(at: 2))
    }
}
