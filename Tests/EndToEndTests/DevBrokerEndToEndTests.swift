import Foundation
import Log
import Runtime
import TestSupport
import Testing

/// The built binaries against each other and against kcat, an outside Kafka client.
@Suite struct DevBrokerEndToEndTests {
    static let cdp = BuildProducts.path("cdp")
    static let kcat = which("kcat")

    @Test func devbroker_publishesAddress_servesAFixedPort_andStopsCleanly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdp-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let addressFile = dir.appendingPathComponent("addr").path
        let port = freePort()
        let broker = try await DevBrokerProcess.start(arguments: ["--port", String(port), "--address-file", addressFile, "--partitions", "3", "--topic-prefix", "t1."])
        #expect(broker.bootstrap == "127.0.0.1:\(port)")
        #expect(try String(contentsOfFile: addressFile, encoding: .utf8) == "127.0.0.1:\(port)\n")

        let topics = try await ChildProcess.run(Self.cdp, ["topics", "list"], environment: ["CDP_BROKERS": broker.bootstrap])
        #expect(topics.status == 0)
        let listed = Set(topics.stdout.split(separator: "\n").map(String.init))
        #expect(listed == ["t1.config\t1", "t1.deadletter\t3", "t1.events\t3", "t1.exports\t3", "t1.memberships\t3", "t1.profiles\t3"])

        #expect(await broker.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: addressFile))
        #expect(broker.child.stderr.contains("\"msg\":\"dev broker stopped; its records are gone\""))
    }

    @Test(arguments: [
        (["--brokers", "0"], "--brokers=0: must be between 1 and 8"),
        (["--partitions", "x"], "--partitions=x: not an integer"),
        (["--topic-prefix", "bad prefix"], "topic prefix 'bad prefix'"),
        (["--frobnicate"], "unknown flag --frobnicate"),
    ])
    func devbroker_badFlags_exit78WithAClearMessage(arguments: [String], message: String) async throws {
        let result = try await ChildProcess.run(BuildProducts.path("cdp-devbroker"), arguments, timeout: 20)
        #expect(result.status == 78)
        #expect(result.stderr.contains(message))
    }

    @Test(.enabled(if: which("kcat") != nil, "kcat is installed by scripts/bootstrap"))
    func ourProducer_toKcat_andKcat_toOurConsumer() async throws {
        let broker = try await DevBrokerProcess.start()
        let env = ["CDP_BROKERS": broker.bootstrap]
        // Ours → kcat: keys, values and murmur2 partitions arrive as sent.
        let lines = (0..<200).map { "acct\($0 % 5)\t{\"v\":1,\"aid\":\"acct\($0 % 5)\",\"n\":\($0)}" }.joined(separator: "\n") + "\n"
        let produced = try await ChildProcess.run(Self.cdp, ["produce", "e2e.in", "-", "--key-delimiter", "\t"], environment: env, stdin: Data(lines.utf8))
        #expect(produced.status == 0, "\(produced.stderr)")
        #expect(produced.stderr.contains("produced 200 of 200 records"))
        let read = try await ChildProcess.run(Self.kcat!, ["-b", broker.bootstrap, "-C", "-t", "e2e.in", "-e", "-q", "-f", "%p\t%k\t%s\n"])
        #expect(read.status == 0)
        let rows = read.stdout.split(separator: "\n").map { $0.split(separator: "\t", maxSplits: 2).map(String.init) }
        #expect(rows.count == 200)
        for row in rows {
            #expect(Int32(row[0]) == Partitioner.partition(forKey: Array(row[1].utf8), count: 4))
            #expect(row[2].contains("\"aid\":\"\(row[1])\""))
        }
        #expect(Set(rows.map { $0[2] }).count == 200)

        // kcat → ours: a consumer group reads everything kcat wrote, with keys.
        let kcatInput = (0..<50).map { "k\($0):value-\($0)" }.joined(separator: "\n") + "\n"
        let wrote = try await ChildProcess.run(Self.kcat!, ["-b", broker.bootstrap, "-P", "-t", "e2e.out", "-K:", "-X", "partitioner=murmur2_random"], stdin: Data(kcatInput.utf8))
        #expect(wrote.status == 0, "\(wrote.stderr)")
        let consumed = try await ChildProcess.run(Self.cdp, ["consume", "e2e.out", "--group", "e2e", "--from-beginning", "--idle-ms", "1500"], environment: env, timeout: 90)
        #expect(consumed.status == 0, "\(consumed.stderr)")
        let records = try consumed.stdout.split(separator: "\n").map { try JSONParser().parse(String($0)) }
        #expect(records.count == 50)
        #expect(Set(records.compactMap { $0["value"]?.stringValue }) == Set((0..<50).map { "value-\($0)" }))
        for r in records {
            let key = r["key"]?.stringValue ?? ""
            #expect(r["partition"]?.intValue == Int64(Partitioner.partition(forKey: Array(key.utf8), count: 4)))
        }
        // The group committed: a second run sees nothing new.
        let again = try await ChildProcess.run(Self.cdp, ["consume", "e2e.out", "--group", "e2e", "--idle-ms", "1000"], environment: env, timeout: 90)
        #expect(again.status == 0)
        #expect(again.stdout.isEmpty)
        #expect(await broker.stop() == 0)
    }

    @Test(.enabled(if: which("kcat") != nil, "kcat is installed by scripts/bootstrap"))
    func devbroker_warnsWhenAPartitionDropsOldRecords() async throws {
        let broker = try await DevBrokerProcess.start(arguments: ["--partitions", "1"])
        // ~8 MiB of uncompressed, incompressible-enough records into one partition: past the mock's 5 MiB.
        var lines = ""
        for i in 0..<16_000 { lines += "{\"n\":\(i),\"pad\":\"\(String(repeating: String(i % 10), count: 480))\"}\n" }
        let wrote = try await ChildProcess.run(Self.kcat!, ["-b", broker.bootstrap, "-P", "-t", "cdp.events", "-p", "0", "-X", "compression.type=none"], stdin: Data(lines.utf8))
        #expect(wrote.status == 0)
        let warned = await broker.child.waitFor(timeout: 15) { $0.stderr.contains("partition dropped old records") }
        #expect(warned, "stderr: \(broker.child.stderr.suffix(2000))")
        #expect(broker.child.stderr.contains("\"partition\":\"cdp.events[0]\""))
        #expect(await broker.stop() == 0)
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func pythonConfluentKafka_producesAndConsumesWithGroups() async throws {
        let broker = try await DevBrokerProcess.start()
        let peer = Self.repository.appendingPathComponent("scripts/peers/kafka_peer.py").path
        // Python produces; our consumer group reads it.
        let produced = try await ChildProcess.run("/usr/bin/env", ["python3", peer, "produce", broker.bootstrap, "py.in", "30"])
        #expect(produced.status == 0, "\(produced.stderr)")
        let ours = try await ChildProcess.run(Self.cdp, ["consume", "py.in", "--group", "ours", "--from-beginning", "--idle-ms", "1500"],
                                              environment: ["CDP_BROKERS": broker.bootstrap], timeout: 90)
        let values = ours.stdout.split(separator: "\n").compactMap { try? JSONParser().parse(String($0))["value"]?.stringValue }
        #expect(Set(values) == Set((0..<30).map { "py-\($0)" }))

        // We produce; a Python consumer group reads it, on the partitions our murmur2 chose.
        let lines = (0..<30).map { "key-\($0)\tours-\($0)" }.joined(separator: "\n") + "\n"
        let sent = try await ChildProcess.run(Self.cdp, ["produce", "py.out", "-", "--key-delimiter", "\t"],
                                              environment: ["CDP_BROKERS": broker.bootstrap], stdin: Data(lines.utf8))
        #expect(sent.status == 0)
        let theirs = try await ChildProcess.run("/usr/bin/env", ["python3", peer, "consume", broker.bootstrap, "py.out", "pygroup", "30"], timeout: 90)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        let records = try theirs.stdout.split(separator: "\n").map { try JSONParser().parse(String($0)) }
        #expect(records.count == 30)
        for r in records {
            let key = r["key"]?.stringValue ?? ""
            #expect(r["partition"]?.intValue == Int64(Partitioner.partition(forKey: Array(key.utf8), count: 4)))
        }
        #expect(await broker.stop() == 0)
    }

    @Test func cli_usageErrors_exit64() async throws {
        let noCommand = try await ChildProcess.run(Self.cdp, [])
        #expect(noCommand.status == 64)
        let unknown = try await ChildProcess.run(Self.cdp, ["frobnicate"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown command 'frobnicate'"))
        let missing = try await ChildProcess.run(Self.cdp, ["consume"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("consume needs exactly one TOPIC"))
        let help = try await ChildProcess.run(Self.cdp, ["produce", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("usage: cdp produce TOPIC"))
    }
}
