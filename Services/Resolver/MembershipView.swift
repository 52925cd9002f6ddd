import Foundation
import Log
import Model
import Runtime

/// The resolver's view of `cdp.memberships`: each profile's current audiences, for the entity
/// API's `segments`. Reads every partition (assign, from the beginning); the newest version of a
/// profile's record wins.
final class MembershipView: Service, @unchecked Sendable {
    let name = "membership-view"
    private let client: any LogClient
    private let topic: String
    private let logger: Logger
    private let clientID: String
    private let state = Locked<[String: (version: Int64, segments: [String])]>([:])

    init(client: any LogClient, topics: PipelineTopics, logger: Logger, clientID: String) {
        self.client = client
        self.topic = topics.memberships
        self.logger = logger
        self.clientID = clientID
    }

    /// The audience ids of `<aid>/<profile>`.
    func segments(account: String, profile: String) -> [String] {
        state.withLock { $0["\(account)/\(profile)"]?.segments ?? [] }
    }

    func run() async throws {
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: nil, clientID: clientID))
        // Partitions come from metadata; retry until the topic is visible.
        var assigned = false
        while !assigned && !Task.isCancelled {
            if let topics = try? await client.makeAdmin().listTopics(), let info = topics.first(where: { $0.name == topic }) {
                var offsets: [TopicPartition: Int64] = [:]
                for p in 0..<info.partitions { offsets[TopicPartition(topic, Int32(p))] = Offset.beginning }
                try consumer.assign(offsets)
                assigned = true
            } else {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        while !Task.isCancelled {
            let records: [ConsumerRecord]
            do {
                records = try await consumer.poll(max: 5000, timeoutMs: 200)
            } catch LogError.closed {
                break
            } catch {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            guard !records.isEmpty else { continue }
            state.withLock { s in
                for r in records {
                    guard let key = r.keyString, let v = try? JSONParser().parse(r.value ?? []), let version = v["version"]?.intValue else { continue }
                    if let seen = s[key], seen.version > version { continue }
                    s[key] = (version, (v["segments"]?.arrayValue ?? []).compactMap(\.stringValue))
                }
            }
        }
        await consumer.close()
    }
}
