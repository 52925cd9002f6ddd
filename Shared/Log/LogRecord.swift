/// A topic and one of its partitions.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }

    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// Special offsets (librdkafka's values).
public enum Offset {
    /// The oldest record still held by the partition.
    public static let beginning: Int64 = -2
    /// The next record to be written (read only new records).
    public static let end: Int64 = -1
    /// The group's committed offset, else `auto.offset.reset`.
    public static let stored: Int64 = -1000
}

/// A record header (Kafka allows repeated names; order is kept).
public struct RecordHeader: Hashable, Sendable {
    public var name: String
    public var value: [UInt8]

    public init(_ name: String, _ value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name, Array(value.utf8))
    }
}

/// A record to write. `partition` nil lets the partitioner choose from the key (murmur2, as the
/// Java client does) so every producer of the pipeline agrees on where a key lives.
public struct ProducerRecord: Sendable, Equatable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    public var partition: Int32?
    /// Record timestamp in epoch milliseconds; nil means "now" as seen by the client.
    public var timestampMs: Int64?

    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [],
                partition: Int32? = nil, timestampMs: Int64? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
        self.timestampMs = timestampMs
    }

    public init(topic: String, key: String?, value: String?, headers: [RecordHeader] = [],
                partition: Int32? = nil, timestampMs: Int64? = nil) {
        self.init(topic: topic, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) },
                  headers: headers, partition: partition, timestampMs: timestampMs)
    }
}

/// Where an acknowledged record was written.
public struct RecordMetadata: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A record read from the log.
public struct ConsumerRecord: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    public var timestampMs: Int64

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
                headers: [RecordHeader], timestampMs: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMs = timestampMs
    }

    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    public var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// Consecutive records of one partition: positions `range` of a batch.
public typealias PartitionRun = (partition: TopicPartition, range: Range<Int>)

extension [ConsumerRecord] {
    /// Runs of consecutive records of one partition, in order (a poll returns a partition's
    /// records together): work per partition is done once a run, not once a record.
    public var partitionRuns: [PartitionRun] {
        var runs: [PartitionRun] = []
        var start = 0
        while start < count {
            let first = self[start]
            var end = start + 1
            while end < count, self[end].partition == first.partition, self[end].topic == first.topic { end += 1 }
            runs.append((first.topicPartition, start..<end))
            start = end
        }
        return runs
    }
}

/// The offsets bounding a partition: `low` is the oldest record held, `high` the next to be written.
public struct Watermarks: Sendable, Equatable {
    public var low: Int64
    public var high: Int64
    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}

/// A topic to create.
public struct TopicSpec: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// A topic as listed by the broker.
public struct TopicInfo: Sendable, Equatable {
    public var name: String
    public var partitions: Int

    public init(name: String, partitions: Int) {
        self.name = name
        self.partitions = partitions
    }
}
