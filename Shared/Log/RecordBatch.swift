/// Records for one topic laid out in one buffer: each key and value is a range of `bytes`. A
/// producer of many records writes them here rather than into two arrays per record (measured on
/// the resolver: holding a batch's profiles as separate ~1.5 KiB arrays until delivery kept
/// glibc's allocator on its slow paths). Bytes written and then not used as a record (a value
/// replaced by a newer one) stay in the buffer until the batch is dropped.
public struct RecordBatch: Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: Range<Int>
        public var value: Range<Int>
    }

    public let topic: String
    public private(set) var bytes: [UInt8] = []
    public private(set) var entries: [Entry] = []

    public init(topic: String, capacity: Int = 0) {
        self.topic = topic
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Appends what `body` writes to the buffer; returns where it went.
    public mutating func write(_ body: (inout [UInt8]) -> Void) -> Range<Int> {
        let start = bytes.count
        body(&bytes)
        return start..<bytes.count
    }

    /// Appends `data` to the buffer; returns where it went.
    public mutating func write(_ data: some Sequence<UInt8>) -> Range<Int> {
        write { $0.append(contentsOf: data) }
    }

    /// Adds a record made of two ranges already written.
    public mutating func append(key: Range<Int>, value: Range<Int>) {
        precondition(key.upperBound <= bytes.count && value.upperBound <= bytes.count, "record ranges outside the batch")
        entries.append(Entry(key: key, value: value))
    }

    /// Record `i` as a standalone `ProducerRecord` (copies its bytes).
    public func record(at i: Int) -> ProducerRecord {
        let e = entries[i]
        return ProducerRecord(topic: topic, key: Array(bytes[e.key]), value: Array(bytes[e.value]))
    }

    /// Every record, copied out.
    public var records: [ProducerRecord] { entries.indices.map(record(at:)) }

    /// The records whose result failed, copied out, for results of `enqueue(records, batches)`
    /// (in its order: `records`, then each batch's records). Nothing is copied for successes.
    public static func failed(_ results: [Result<RecordMetadata, LogError>], records: [ProducerRecord], batches: [RecordBatch]) -> [(record: ProducerRecord, error: LogError)] {
        var failed: [(record: ProducerRecord, error: LogError)] = []
        var i = 0
        for record in records {
            if i < results.count, case .failure(let error) = results[i] { failed.append((record, error)) }
            i += 1
        }
        for batch in batches {
            for j in 0..<batch.count {
                if i < results.count, case .failure(let error) = results[i] { failed.append((batch.record(at: j), error)) }
                i += 1
            }
        }
        return failed
    }
}
