import Foundation
import Log
import Runtime
import Synchronization
import TestSupport
import Testing

/// The implementations every contract test runs against.
enum LogKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case devbroker
    var testDescription: String { rawValue }
}

/// A log for one test, with what it needs to be torn down.
final class LogFixture: @unchecked Sendable {
    let kind: LogKind
    let client: any LogClient
    let memory: InMemoryLog?
    let broker: DevBrokerProcess?

    private init(kind: LogKind, client: any LogClient, memory: InMemoryLog?, broker: DevBrokerProcess?) {
        self.kind = kind
        self.client = client
        self.memory = memory
        self.broker = broker
    }

    static func make(_ kind: LogKind) async throws -> LogFixture {
        switch kind {
        case .memory:
            let log = InMemoryLog(defaultPartitions: 4)
            return LogFixture(kind: kind, client: log, memory: log, broker: nil)
        case .devbroker:
            let process = try await DevBrokerProcess.start(arguments: ["--partitions", "4"])
            return LogFixture(kind: kind, client: KafkaLog(brokers: process.bootstrap, logger: Logger(label: "test", level: .error)),
                              memory: nil, broker: process)
        }
    }

    func consumer(group: String?) throws -> any LogConsumer {
        try client.makeConsumer(ConsumerOptions(groupID: group, clientID: "test", sessionTimeoutMs: 6000))
    }

    func producer(maxInFlight: Int = 10_000) throws -> any LogProducer {
        try client.makeProducer(ProducerOptions(clientID: "test", maxInFlight: maxInFlight, lingerMs: 1))
    }

    /// A consumer without a group assigned every partition of `topic` (4) from the beginning.
    func readerFromBeginning(_ topic: String) throws -> any LogConsumer {
        let consumer = try consumer(group: nil)
        var offsets: [TopicPartition: Int64] = [:]
        for p in 0..<4 { offsets[TopicPartition(topic, Int32(p))] = Offset.beginning }
        try consumer.assign(offsets)
        return consumer
    }
}

/// Polls until `count` records arrived or `seconds` passed.
func poll(_ consumer: any LogConsumer, count: Int, seconds: Double = 20) async throws -> [ConsumerRecord] {
    var out: [ConsumerRecord] = []
    let deadline = Date().addingTimeInterval(seconds)
    while out.count < count, Date() < deadline {
        out += try await consumer.poll(max: count - out.count, timeoutMs: 200)
    }
    return out
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("Log contract: in-memory log and cdp-devbroker behave the same")
struct LogContractTests {
    @Test(arguments: LogKind.allCases)
    func producedRecords_readBackInOrderWithKeysHeadersAndMetadata(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        var sent: [RecordMetadata] = []
        for i in 0..<20 {
            let record = ProducerRecord(topic: "contract.a", key: "acct-\(i % 3)", value: "{\"n\":\(i)}",
                                        headers: [RecordHeader("source", "test"), RecordHeader("n", String(i))])
            sent.append(try await producer.send(record))
        }
        await producer.close(timeoutMs: 5000)

        let consumer = try fx.readerFromBeginning("contract.a")
        let records = try await poll(consumer, count: 20)
        #expect(records.count == 20)
        for record in records {
            let n = Int(record.headers.first { $0.name == "n" }.map { String(decoding: $0.value, as: UTF8.self) } ?? "") ?? -1
            #expect(record.valueString == "{\"n\":\(n)}")
            #expect(record.keyString == "acct-\(n % 3)")
            #expect(record.headers.first?.name == "source")
            #expect(sent[n].partition == record.partition && sent[n].offset == record.offset)
        }
        // Within a partition, offsets are consecutive and follow send order.
        for p in 0..<4 {
            let inPartition = records.filter { $0.partition == Int32(p) }
            #expect(inPartition.map(\.offset) == Array(0..<Int64(inPartition.count)))
        }
        await consumer.close()
    }

    @Test(arguments: LogKind.allCases)
    func keyedRecords_landOnTheMurmur2Partition(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        let keys = (0..<40).map { "account-\($0)" }
        let results = await producer.send(keys.map { ProducerRecord(topic: "contract.keys", key: $0, value: "x") })
        for (key, result) in zip(keys, results) {
            let metadata = try result.get()
            #expect(metadata.partition == Partitioner.partition(forKey: bytes(key), count: 4), "key \(key)")
        }
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func enqueuedRecordsAndBatches_arriveWithOneResultEachInOrder(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        var batch = RecordBatch(topic: "contract.batch")
        for i in 0..<30 {
            let unused = batch.write(bytes("superseded-\(i)")) // bytes written and never used as a record
            #expect(!unused.isEmpty)
            let value = batch.write { $0 += bytes("{\"n\":\(i)}") }
            batch.append(key: batch.write(bytes("key-\(i % 5)")), value: value)
        }
        let single = ProducerRecord(topic: "contract.batch", key: "single", value: "alone")
        let results = await producer.enqueue([single], [batch, RecordBatch(topic: "contract.batch")]).results()
        #expect(results.count == 31)
        let metadata = try results.map { try $0.get() }
        for i in 0..<30 {
            #expect(metadata[1 + i].partition == Partitioner.partition(forKey: bytes("key-\(i % 5)"), count: 4))
        }
        await producer.close(timeoutMs: 5000)

        let consumer = try fx.readerFromBeginning("contract.batch")
        let records = try await poll(consumer, count: 31)
        #expect(records.count == 31)
        #expect(Set(records.map { "\($0.keyString ?? "")=\($0.valueString ?? "")" }) ==
                Set(["single=alone"] + (0..<30).map { "key-\($0 % 5)={\"n\":\($0)}" }))
        // Each key's records are in the order they were added.
        for k in 0..<5 {
            let values = records.filter { $0.keyString == "key-\(k)" }.sorted { $0.offset < $1.offset }.map(\.valueString)
            #expect(values == stride(from: k, to: 30, by: 5).map { "{\"n\":\($0)}" })
        }
        await consumer.close()
    }

    /// A record past the maximum message size (librdkafka's default 1,000,000 bytes) is refused
    /// for good, on both logs; the producer goes on with the next.
    @Test(arguments: LogKind.allCases)
    func oversizedRecords_areRefusedForGood(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        let big = ProducerRecord(topic: "contract.big", key: Array("k".utf8), value: [UInt8](repeating: 0x61, count: 1_100_000))
        do {
            _ = try await producer.send(big)
            Issue.record("a 1.1 MB record was accepted")
        } catch {
            #expect(!error.isRetriable, "\(error)")
        }
        let small = try await producer.send(ProducerRecord(topic: "contract.big", key: "k", value: "small"))
        #expect(small.topic == "contract.big")
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func group_resumesFromItsCommittedOffset(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        for i in 0..<5 { _ = try await producer.send(ProducerRecord(topic: "contract.g", key: "k", value: "first-\(i)")) }

        let first = try fx.consumer(group: "g1")
        try first.subscribe(["contract.g"], hooks: RebalanceHooks())
        let firstBatch = try await poll(first, count: 5)
        #expect(firstBatch.map(\.valueString) == (0..<5).map { "first-\($0)" })
        var next: [TopicPartition: Int64] = [:]
        for r in firstBatch { next[r.topicPartition] = r.offset + 1 }
        try await first.commit(next)
        #expect(try await first.committed(Array(next.keys)) == next)
        await first.close()

        for i in 0..<3 { _ = try await producer.send(ProducerRecord(topic: "contract.g", key: "k", value: "second-\(i)")) }
        let second = try fx.consumer(group: "g1")
        try second.subscribe(["contract.g"], hooks: RebalanceHooks())
        let secondBatch = try await poll(second, count: 3, seconds: 30)
        #expect(secondBatch.map(\.valueString) == (0..<3).map { "second-\($0)" })
        // Nothing before the committed offset comes back.
        let extra = try await second.poll(max: 10, timeoutMs: 500)
        #expect(extra.isEmpty)
        await second.close()
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func group_twoMembersSplitThePartitions_andHooksSeeEveryChange(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let assignedA = Mutex<Set<TopicPartition>>([])
        let revokedA = Mutex<[TopicPartition]>([])
        let assignedB = Mutex<Set<TopicPartition>>([])
        let a = try fx.consumer(group: "split")
        try a.subscribe(["contract.split"], hooks: RebalanceHooks(
            onAssign: { tps in assignedA.withLock { $0.formUnion(tps) } },
            onRevoke: { tps in
                revokedA.withLock { $0 += tps }
                assignedA.withLock { $0.subtract(tps) }
            }))
        // Make sure the topic exists with 4 partitions.
        let producer = try fx.producer()
        for p in 0..<4 { _ = try await producer.send(ProducerRecord(topic: "contract.split", key: nil, value: "p\(p)", partition: Int32(p))) }

        let deadline = Date().addingTimeInterval(30)
        while assignedA.withLock({ $0.count }) < 4, Date() < deadline { _ = try await a.poll(max: 100, timeoutMs: 100) }
        #expect(assignedA.withLock { $0.count } == 4)

        let b = try fx.consumer(group: "split")
        try b.subscribe(["contract.split"], hooks: RebalanceHooks(
            onAssign: { tps in assignedB.withLock { $0.formUnion(tps) } },
            onRevoke: { tps in assignedB.withLock { $0.subtract(tps) } }))
        let deadline2 = Date().addingTimeInterval(40)
        while Date() < deadline2 {
            async let pa = a.poll(max: 100, timeoutMs: 100)
            async let pb = b.poll(max: 100, timeoutMs: 100)
            _ = try await (pa, pb)
            let (ca, cb) = (assignedA.withLock { $0 }, assignedB.withLock { $0 })
            if ca.count == 2, cb.count == 2 { break }
        }
        let (finalA, finalB) = (assignedA.withLock { $0 }, assignedB.withLock { $0 })
        #expect(finalA.count == 2 && finalB.count == 2)
        #expect(finalA.isDisjoint(with: finalB))
        #expect(!revokedA.withLock { $0 }.isEmpty)
        #expect(a.assignment == finalA)
        await a.close()
        await b.close()
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func watermarksSeekAndAssignFromEnd(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        let tp = TopicPartition("contract.w", 1)
        for i in 0..<7 { _ = try await producer.send(ProducerRecord(topic: tp.topic, key: nil, value: "v\(i)", partition: 1)) }
        let consumer = try fx.consumer(group: nil)
        #expect(try await consumer.watermarks(tp) == Watermarks(low: 0, high: 7))

        try consumer.assign([tp: 3])
        let fromThree = try await poll(consumer, count: 4)
        #expect(fromThree.map(\.valueString) == ["v3", "v4", "v5", "v6"])
        try await consumer.seek(tp, to: Offset.beginning)
        let again = try await poll(consumer, count: 7)
        #expect(again.map(\.offset) == Array(0..<7))
        await consumer.close()

        let tail = try fx.consumer(group: nil)
        try tail.assign([tp: Offset.end])
        // "End" is resolved when fetching starts, so keep writing until the reader sees something:
        // it must only ever see records written after it started, never the seven old ones.
        var fresh: [ConsumerRecord] = []
        var written = 0
        while fresh.isEmpty, written < 40 {
            _ = try await producer.send(ProducerRecord(topic: tp.topic, key: nil, value: "new-\(written)", partition: 1))
            written += 1
            fresh = try await tail.poll(max: 100, timeoutMs: 250)
        }
        #expect(!fresh.isEmpty)
        #expect(fresh.allSatisfy { $0.offset >= 7 && ($0.valueString ?? "").hasPrefix("new-") })
        await tail.close()
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func unreachableBroker_fillsTheBoundedQueue_thenRecordsTimeOut(kind: LogKind) async throws {
        let client: any LogClient
        switch kind {
        case .memory:
            let log = InMemoryLog()
            log.setAvailable(false)
            client = log
        case .devbroker:
            // Nothing listens on this port: the broker is unreachable.
            client = KafkaLog(brokers: "127.0.0.1:\(freePort())", logger: Logger(label: "test", level: .error))
        }
        let producer = try client.makeProducer(ProducerOptions(clientID: "test", maxInFlight: 5, deliveryTimeoutMs: 1500))
        let failures = Mutex<[LogError]>([])
        for i in 0..<5 {
            try producer.send(ProducerRecord(topic: "contract.down", key: nil, value: "v\(i)")) { result in
                if case .failure(let e) = result { failures.withLock { $0.append(e) } }
            }
        }
        #expect(producer.inFlightCount == 5)
        #expect(throws: LogError.queueFull(limit: 5)) {
            try producer.send(ProducerRecord(topic: "contract.down", key: nil, value: "one too many")) { _ in }
        }
        let deadline = Date().addingTimeInterval(15)
        while failures.withLock({ $0.count }) < 5, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let seen = failures.withLock { $0 }
        #expect(seen.count == 5)
        #expect(seen.allSatisfy { if case .timedOut = $0 { true } else { false } })
        #expect(producer.inFlightCount == 0)
        await producer.close(timeoutMs: 100)
    }

    @Test(arguments: LogKind.allCases)
    func admin_listsTopicsWithTheirPartitionCounts(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let admin = try fx.client.makeAdmin()
        if kind == .memory {
            // The dev broker creates the pipeline topics itself (its mock cannot serve CreateTopics).
            try await admin.createTopics([TopicSpec(name: "cdp.events", partitions: 4), TopicSpec(name: "cdp.config", partitions: 1, configs: ["cleanup.policy": "compact"])])
        }
        let topics = try await admin.listTopics()
        #expect(topics.contains(TopicInfo(name: "cdp.events", partitions: 4)))
        #expect(topics.contains(TopicInfo(name: "cdp.config", partitions: 1)))
    }

    /// Lag: records between the read position and the partition's end, without a request.
    @Test(arguments: LogKind.allCases)
    func lag_countsTheRecordsNotReadYet(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        let results = await producer.send((0..<10).map { ProducerRecord(topic: "contract.lag", key: nil, value: "v\($0)", partition: 1) })
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let consumer = try fx.readerFromBeginning("contract.lag")
        let tp = TopicPartition("contract.lag", 1)
        var read = 0
        for _ in 0..<100 where read < 4 { read += try await consumer.poll(max: 4 - read, timeoutMs: 200).count }
        #expect(read == 4)
        var lag: [TopicPartition: Int64] = [:]
        for _ in 0..<50 {
            lag = consumer.lag
            if lag[tp] == 6 && lag.count == 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lag[tp] == 6)
        #expect(Set(lag.keys) == consumer.assignment)
        #expect(lag.filter { $0.key != tp }.values.allSatisfy { $0 == 0 }) // the other partitions are empty
        for _ in 0..<100 where read < 10 { read += try await consumer.poll(max: 10, timeoutMs: 200).count }
        #expect(read == 10 && consumer.lag[tp] == 0)
        await consumer.close()
        #expect(consumer.lag.isEmpty)
        await producer.close(timeoutMs: 5000)
    }

    @Test(arguments: LogKind.allCases)
    func batchSend_returnsOneResultPerRecordInOrder(kind: LogKind) async throws {
        let fx = try await LogFixture.make(kind)
        let producer = try fx.producer()
        let records = (0..<500).map { ProducerRecord(topic: "contract.batch", key: nil, value: "v\($0)", partition: 0) }
        let results = await producer.send(records)
        let offsets = try results.map { try $0.get().offset }
        #expect(offsets == Array(0..<500))
        await producer.close(timeoutMs: 5000)
    }
}
