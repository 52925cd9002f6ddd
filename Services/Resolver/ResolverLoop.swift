import Foundation
import IdentityCore
import Log
import Model
import QL
import Runtime

extension ResolverApp {
    /// The consumer loop. Each assigned partition is read from its beginning: records before the
    /// group's committed offset only rebuild state; records after it also publish.
    func consume() async throws {
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: settings.groupID, clientID: "cdp-resolver-\(settings.instanceID)",
                                                               sessionTimeoutMs: settings.sessionTimeoutMs))
        let topic = settings.topics.events
        try consumer.subscribe([topic], hooks: RebalanceHooks(
            onAssign: { [self] tps in
                progress.assign(tps)
                logger.info("partitions assigned; rebuilding from the log", ["partitions": tps.map(\.description).joined(separator: ",")])
            },
            onRevoke: { [self] tps in
                progress.revoke(tps)
                let revoked = Set(tps.map(\.partition))
                state.withLock { s in
                    for (account, partition) in s.accountPartition where revoked.contains(partition) {
                        s.graphs[account] = nil
                        s.accountPartition[account] = nil
                    }
                }
                logger.info("partitions revoked; their accounts' state dropped", ["partitions": tps.map(\.description).joined(separator: ",")])
            },
            startOffsets: { [self] tps in
                // From the partition's snapshot when there is a valid one, else from the beginning.
                var starts: [TopicPartition: Int64] = [:]
                for tp in tps {
                    if let offset = restoreSnapshot(tp) {
                        starts[tp] = offset
                        progress.setPosition(tp, offset)
                    } else {
                        starts[tp] = Offset.beginning
                    }
                }
                return starts
            }))
        var lastSnapshot = ContinuousClock.now
        while !Task.isCancelled {
            guard let records = await consumer.pollBatch(view: view, logger: logger) else { break }
            await progress.learnCommitted(from: consumer)
            if records.isEmpty { continue }
            let outputs = process(records)
            if !outputs.records.isEmpty {
                let results = await producer.send(outputs.records)
                if results.contains(where: { if case .failure = $0 { true } else { false } }) {
                    // Not committed: the same outputs are produced again after a restart (versions make that harmless).
                    logger.error("publishing failed; offsets not committed", ["records": String(outputs.records.count)])
                    continue
                }
                profilesPublished.inc(UInt64(outputs.records.count))
            }
            if !outputs.commits.isEmpty {
                do {
                    try await consumer.commit(outputs.commits)
                    progress.committed(outputs.commits)
                } catch {
                    logger.warning("commit failed", ["error": "\(error)"])
                    continue
                }
            }
            // Snapshots only at a batch boundary after a successful commit: a restored state never
            // covers records whose output was not committed.
            if settings.dataDirectory != nil, ContinuousClock.now - lastSnapshot > .milliseconds(settings.snapshotIntervalMs) {
                lastSnapshot = ContinuousClock.now
                writeSnapshots()
            }
        }
        writeSnapshots()
        await consumer.close()
    }

    struct Outputs {
        var records: [ProducerRecord] = []
        var commits: [TopicPartition: Int64] = [:]
    }

    /// Applies records in order; returns what to publish and commit (only for live records).
    func process(_ records: [ConsumerRecord]) -> Outputs {
        var out = Outputs()
        var schemas: [String: AccountSchema] = [:]
        var latest: [String: [UInt8]] = [:] // the last output per key in this batch
        var latestProfiles: [String: (account: String, profile: Profile)] = [:]
        var order: [String] = []
        func emit(_ key: String, _ value: [UInt8]) {
            if latest[key] == nil && latestProfiles[key] == nil { order.append(key) }
            latestProfiles[key] = nil
            latest[key] = value
        }
        func emitProfile(_ key: String, _ account: String, _ profile: Profile) {
            if latest[key] == nil && latestProfiles[key] == nil { order.append(key) }
            latest[key] = nil
            latestProfiles[key] = (account, profile)
        }
        for record in records {
            let tp = record.topicPartition
            let live = progress.advance(past: record)
            if live { out.commits[tp] = record.offset + 1 }
            let event: EventRecord
            do throws(EventRecord.ParseError) {
                event = try EventRecord.parse(record.value ?? [], fallbackID: "\(record.topic)-\(record.partition)-\(record.offset)",
                                              fallbackTimestampMs: record.timestampMs)
            } catch {
                if live { deadLetter(record, reason: "\(error)", into: &out) }
                continue
            }
            let account = event.account
            if event.stream == Self.commandStream {
                handleCommand(event, live: live, emit: emit)
                continue
            }
            let schema = schemas[account] ?? self.schema(for: account)
            schemas[account] = schema
            let mapped: MappedEvent
            switch EventMapper.map(event, schema: schema) {
            case .success(let m): mapped = m
            case .failure(.filtered):
                state.withLock { $0.streams[account, default: [:]][event.stream, default: StreamStats()].filtered += 1 }
                continue
            case .failure(let e):
                if live { deadLetter(record, reason: "\(e)", into: &out) }
                continue
            }
            let (resolution, profiles) = state.withLock { s -> (Resolution, [Profile]) in
                s.accountPartition[account] = record.partition
                // Mutated in place: copying the graph out of the dictionary would copy its tables.
                if s.graphs[account] == nil { s.graphs[account] = IdentityGraph(account: account, schema: schema.identity) }
                if s.graphs[account]!.schema != schema.identity { s.graphs[account]!.schema = schema.identity }
                let r = s.graphs[account]!.apply(mapped)
                let changed = r.changed.compactMap { s.graphs[account]!.profiles[$0] }
                var stats = s.streams[account, default: [:]][event.stream, default: StreamStats()]
                stats.events += 1
                stats.lastEventMs = max(stats.lastEventMs, event.timestampMs)
                if r.outcome == .noIdentifier { stats.withoutIdentity += 1 }
                for (k, v) in event.data where stats.fieldsSeen.count < 50 && stats.fieldsSeen[k] == nil { stats.fieldsSeen[k] = v }
                stats.recent.append(event.json)
                if stats.recent.count > 20 { stats.recent.removeFirst(stats.recent.count - 20) }
                s.streams[account, default: [:]][event.stream] = stats
                return (r, changed)
            }
            eventsApplied.inc()
            guard live else { continue }
            for profile in profiles {
                // Serialised once per batch, for the newest state only.
                emitProfile("\(account)/\(profile.id)", account, profile)
            }
            for absorbed in resolution.absorbed {
                let tombstone: JSONValue = ["v": 1, "aid": .string(account), "id": .string(absorbed), "deleted": true,
                                            "merged_into": .string(resolution.survivor ?? ""), "version": .int((resolution.absorbedVersions[absorbed] ?? 0) + 1)]
                emit("\(account)/\(absorbed)", tombstone.serializedBytes())
            }
        }
        // Within a batch only the newest state of each profile is published (versions only grow).
        for key in order {
            let value = latest[key] ?? latestProfiles[key].map { $0.profile.json(account: $0.account).serializedBytes() } ?? []
            out.records.append(ProducerRecord(topic: settings.topics.profiles, key: Array(key.utf8), value: value))
        }
        return out
    }

    /// Commands that must be ordered with the events travel on cdp.events in this stream.
    public static let commandStream = "_commands"

    /// `{"command":"delete","field","value","request_id"}`: erase the profile holding the
    /// identifier, publish its deleted record, remember the request as done.
    func handleCommand(_ event: EventRecord, live: Bool, emit: (String, [UInt8]) -> Void) {
        guard event.data["command"]?.stringValue == "delete", let field = event.data["field"]?.stringValue,
              let value = event.data["value"]?.stringValue, let requestID = event.data["request_id"]?.stringValue else {
            logger.warning("unknown command on cdp.events ignored", ["id": event.id])
            return
        }
        let deleted = state.withLock { s -> (id: String, version: Int64)? in
            let result = s.graphs[event.account]?.delete(holding: Identifier(field, value))
            s.deletions[requestID] = (event.account, event.timestampMs, result?.id)
            return result
        }
        if let deleted, live {
            let record: JSONValue = ["v": 1, "aid": .string(event.account), "id": .string(deleted.id), "deleted": true,
                                     "reason": .string("deletion request \(requestID)"), "version": .int(deleted.version + 1)]
            emit("\(event.account)/\(deleted.id)", record.serializedBytes())
        }
        logger.info("deletion request applied", ["request": requestID, "profile": deleted?.id ?? "none"])
    }

    func deadLetter(_ record: ConsumerRecord, reason: String, into out: inout Outputs) {
        deadLettered.inc()
        let value: JSONValue = ["v": 1, "source": ["topic": .string(record.topic), "partition": .int(Int64(record.partition)), "offset": .int(record.offset)],
                                "reason": .string(reason), "original": .string(record.valueString ?? "")]
        out.records.append(ProducerRecord(topic: settings.topics.deadletter, key: record.key, value: value.serializedBytes()))
        if let aid = (try? JSONParser().parse(record.value ?? []))?["aid"]?.stringValue, let stream = (try? JSONParser().parse(record.value ?? []))?["stream"]?.stringValue {
            state.withLock { $0.streams[aid, default: [:]][stream, default: StreamStats()].deadLettered += 1 }
        }
    }
}
