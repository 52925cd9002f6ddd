import Foundation
import Log
import Runtime
import Synchronization

/// `cdp produce TOPIC [FILE|-]`: one record per input line.
enum ProduceCommand {
    static let usage = """
    usage: cdp produce TOPIC [FILE|-] [--key KEY | --key-delimiter D] [--brokers HOST:PORT]

    Writes one record per line of FILE (or stdin) to TOPIC and waits for every acknowledgement.
    With --key every record gets KEY; with --key-delimiter each line is KEY<D>VALUE.
    """

    static func run(_ context: inout CLIContext) async throws {
        let key = context.reader.optionalString(flag: "--key")
        let delimiter = context.reader.optionalString(flag: "--key-delimiter")
        try context.finish()
        let args = context.reader.positional
        guard args.count == 1 || args.count == 2 else { throw UsageError(message: "produce needs TOPIC and optionally FILE") }
        if key != nil, delimiter != nil { throw UsageError(message: "use --key or --key-delimiter, not both") }
        if let delimiter, delimiter.isEmpty { throw UsageError(message: "--key-delimiter must not be empty") }
        let topic = args[0]
        let input: FileHandle
        if args.count == 2, args[1] != "-" {
            guard let handle = FileHandle(forReadingAtPath: args[1]) else { throw CommandFailure(message: "cannot open \(args[1])", code: 66) }
            input = handle
        } else {
            input = FileHandle.standardInput
        }
        let producer = try context.log.makeProducer(ProducerOptions(clientID: "cdp-cli", maxInFlight: 500_000))
        let failures = AtomicInt()
        let firstError = FirstError()
        // One completion shared by every record: failures are counted, nothing is allocated per record.
        let tracker = DeliveryTracker(topic: topic) { result in
            if case .failure(let error) = result {
                failures.add(1)
                firstError.set("\(error)")
            }
        }
        let fixedKey = key.map { Array($0.utf8) }
        let delimiterBytes = delimiter.map { Array($0.utf8) }
        var sent = 0
        let started = ContinuousClock.now
        var lastReport = started
        var lines = LineSplitter(handle: input)
        while let batch = try lines.nextBatch() {
            for line in batch {
                var recordKey = fixedKey
                var value = line
                if let delimiterBytes, let cut = LineSplitter.find(delimiterBytes, in: line) {
                    recordKey = Array(line[line.startIndex..<cut])
                    value = line[(cut + delimiterBytes.count)...]
                }
                let record = ProducerRecord(topic: topic, key: recordKey, value: Array(value))
                while true {
                    let error = send(record, producer: producer, tracker: tracker)
                    guard let error else { break }
                    guard case .queueFull = error else { throw error }
                    // Back-pressure: wait for acknowledgements to free room.
                    try? await Task.sleep(for: .milliseconds(2))
                }
                sent += 1
            }
            if ContinuousClock.now - lastReport > .seconds(1) {
                lastReport = ContinuousClock.now
                CLIContext.progress("sent \(sent) records")
            }
        }
        try await producer.flush(timeoutMs: 60_000)
        await producer.close(timeoutMs: 5_000)
        let seconds = (ContinuousClock.now - started).seconds
        let failed = failures.load()
        CLIContext.eprint("\rproduced \(sent - failed) of \(sent) records to \(topic) in \(String(format: "%.2f", seconds)) s (\(Int(Double(sent) / max(seconds, 0.001))) records/s)")
        if failed > 0 {
            throw CommandFailure(message: "\(failed) records failed: \(firstError.value ?? "")")
        }
    }

    /// Queues one record; returns the error when it could not be queued.
    private static func send(_ record: ProducerRecord, producer: any LogProducer, tracker: DeliveryTracker) -> LogError? {
        do throws(LogError) {
            try producer.send(record, tracker: tracker)
            return nil
        } catch {
            return error
        }
    }
}
/// `cdp consume TOPIC`: prints records as JSON lines.
enum ConsumeCommand {
    static let usage = """
    usage: cdp consume TOPIC [--group G] [--from-beginning] [--max N] [--idle-ms MS] [--brokers HOST:PORT]

    Prints records as JSON lines {"topic","partition","offset","key","value","ts"}. Without --group
    it reads every partition (from the beginning with --from-beginning, else only new records);
    with --group it joins the group and commits what it printed. Stops after --max records or
    when nothing arrives for --idle-ms (default 5000; 0 = never).
    """

    static func run(_ context: inout CLIContext) async throws {
        let group = context.reader.optionalString(flag: "--group")
        let fromBeginning = context.reader.bool(flag: "--from-beginning", default: false)
        let max = context.reader.int(flag: "--max", default: Int.max, range: 1...Int.max)
        let idleMs = context.reader.int(flag: "--idle-ms", default: 5000, range: 0...86_400_000)
        try context.finish()
        guard context.reader.positional.count == 1 else { throw UsageError(message: "consume needs exactly one TOPIC") }
        let topic = context.reader.positional[0]
        let log = context.log
        let consumer = try log.makeConsumer(ConsumerOptions(groupID: group, clientID: "cdp-cli", startFromBeginning: fromBeginning, sessionTimeoutMs: 6000))
        if group != nil {
            try consumer.subscribe([topic], hooks: RebalanceHooks())
        } else {
            let admin = try log.makeAdmin()
            guard let info = try await admin.listTopics().first(where: { $0.name == topic }) else {
                throw CommandFailure(message: "topic \(topic) does not exist", code: 69)
            }
            var offsets: [TopicPartition: Int64] = [:]
            for p in 0..<info.partitions { offsets[TopicPartition(topic, Int32(p))] = fromBeginning ? Offset.beginning : Offset.end }
            try consumer.assign(offsets)
        }
        var printed = 0
        var idleSince = ContinuousClock.now
        var wasAssigned = false
        while printed < max {
            if !wasAssigned, !consumer.assignment.isEmpty {
                wasAssigned = true
                idleSince = ContinuousClock.now
            }
            let records = try await consumer.poll(max: min(1000, max - printed), timeoutMs: 200)
            if records.isEmpty {
                // A group member waits for its assignment first (joining takes a few seconds).
                if group != nil, consumer.assignment.isEmpty {
                    if ContinuousClock.now - idleSince > .seconds(60) {
                        throw CommandFailure(message: "no partitions assigned by group \(group!) within 60 s", code: 69)
                    }
                    continue
                }
                // After an assignment the first fetch takes a moment (offset lookups): allow 6 s.
                let idleLimit: Duration = group != nil && printed == 0 ? .milliseconds(Swift.max(idleMs, 6000)) : .milliseconds(idleMs)
                if idleMs > 0, ContinuousClock.now - idleSince > idleLimit { break }
                continue
            }
            idleSince = ContinuousClock.now
            var out = ""
            var next: [TopicPartition: Int64] = [:]
            for r in records {
                let line: JSONValue = [
                    "topic": .string(r.topic), "partition": .int(Int64(r.partition)), "offset": .int(r.offset),
                    "key": r.keyString.map(JSONValue.string) ?? .null, "value": r.valueString.map(JSONValue.string) ?? .null,
                    "ts": .int(r.timestampMs),
                ]
                out += line.serialized() + "\n"
                next[r.topicPartition] = r.offset + 1
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            printed += records.count
            if group != nil { try await consumer.commit(next) }
        }
        await consumer.close()
    }
}

/// `cdp topics [list|create]`.
enum TopicsCommand {
    static let usage = """
    usage: cdp topics list [--brokers HOST:PORT]
           cdp topics create [--partitions N] [--brokers HOST:PORT]

    list: every topic with its partition count. create: the pipeline topics (with compaction for
    config, profiles and memberships) on a real Kafka cluster; topics that exist are kept.
    """

    static func run(_ context: inout CLIContext) async throws {
        let partitions = context.reader.int(flag: "--partitions", default: 4, range: 1...1024)
        let replication = context.reader.int(flag: "--replication-factor", default: 1, range: 1...16)
        try context.finish()
        let admin = try context.log.makeAdmin()
        switch context.reader.positional.first {
        case "list", nil:
            for topic in try await admin.listTopics() {
                print("\(topic.name)\t\(topic.partitions)")
            }
        case "create":
            let specs = context.topics.specs(partitions: partitions).map {
                TopicSpec(name: $0.name, partitions: $0.partitions, replicationFactor: replication, configs: $0.configs)
            }
            try await admin.createTopics(specs)
            for spec in specs { print("\(spec.name)\t\(spec.partitions)") }
        case let other?:
            throw UsageError(message: "unknown topics subcommand \(other)")
        }
    }
}

/// Splits a file into lines in batches, without loading it whole and without making a String
/// per line. Empty lines are skipped; a trailing CR is dropped; lines are bounded in length.
struct LineSplitter {
    let handle: FileHandle
    var maxLineBytes = 16 * 1024 * 1024
    private var carry: [UInt8] = []
    private var eof = false

    init(handle: FileHandle) {
        self.handle = handle
    }

    /// The next lines (as slices of one shared buffer), or nil at the end of input.
    mutating func nextBatch() throws -> [ArraySlice<UInt8>]? {
        while true {
            if eof {
                guard !carry.isEmpty else { return nil }
                defer { carry = [] }
                return Self.trimCR(carry[...]).isEmpty ? [] : [Self.trimCR(carry[...])]
            }
            let chunk = handle.readData(ofLength: 4 << 20)
            if chunk.isEmpty {
                eof = true
                continue
            }
            var buffer = carry
            buffer.append(contentsOf: chunk)
            guard let lastNewline = buffer.lastIndex(of: 0x0A) else {
                if buffer.count > maxLineBytes { throw CommandFailure(message: "input line longer than \(maxLineBytes) bytes", code: 65) }
                carry = buffer
                continue
            }
            carry = Array(buffer[(lastNewline + 1)...])
            var lines: [ArraySlice<UInt8>] = []
            lines.reserveCapacity(lastNewline / 64)
            buffer.withUnsafeBufferPointer { raw in
                var start = 0
                while start < lastNewline {
                    let remaining = lastNewline - start
                    let found = memchr(raw.baseAddress! + start, 0x0A, remaining)
                    let end = found.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - raw.baseAddress! } ?? lastNewline
                    if end > start {
                        let line = Self.trimCR(buffer[start..<end])
                        if !line.isEmpty { lines.append(line) }
                    }
                    start = end + 1
                }
            }
            return lines
        }
    }

    static func trimCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == 0x0D ? line.dropLast() : line
    }

    /// Index of the first occurrence of `needle` in `line`.
    static func find(_ needle: [UInt8], in line: ArraySlice<UInt8>) -> Int? {
        guard !needle.isEmpty, line.count >= needle.count else { return nil }
        var i = line.startIndex
        while i + needle.count <= line.endIndex {
            if line[i] == needle[0], line[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// Remembers the first error message reported from any thread.
final class FirstError: Sendable {
    private let state = Mutex<String?>(nil)
    func set(_ message: String) { state.withLock { if $0 == nil { $0 = message } } }
    var value: String? { state.withLock { $0 } }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
