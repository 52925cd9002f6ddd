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
                state.forEachShard { s in
                    for (account, partition) in s.accountPartition where revoked.contains(partition) {
                        s.graphs[account] = nil
                        s.accountPartition[account] = nil
                    }
                }
                logger.info("partitions revoked; their accounts' state dropped", ["partitions": tps.map(\.description).joined(separator: ",")])
            },
            startOffsets: { [self] tps in progress.startOffsets(tps, restore: restoreSnapshot) }))
        var lastSnapshot = ContinuousClock.now
        var lastTrim = ContinuousClock.now
        var processedSinceTrim = false
        // Processed batches whose outputs are on their way (oldest first): the next batches are
        // processed meanwhile; offsets are committed in order once a batch is acknowledged.
        var inFlight: [PendingBatch] = []
        while !Task.isCancelled {
            // Up to 5,000 records a batch: fewer, larger batches spread better over the threads
            // (measured: 2,000 → 5,000 about 10% more events/s; 500 is 30% fewer). 10,000 measured
            // about 5% more again, but holds a thread for twice as long per batch. A poll waits
            // only for the first record, so at low rates batches stay small and add no latency.
            guard let records = await consumer.pollBatch(max: 5000, view: view, logger: logger) else { break }
            lag.update(from: consumer)
            await progress.learnCommitted(from: consumer)
            // Snapshots only when nothing is in flight: a restored state never covers records
            // whose output was not committed.
            let snapshotDue = settings.dataDirectory != nil && ContinuousClock.now - lastSnapshot > .milliseconds(Int(settings.snapshotIntervalMs))
            if records.isEmpty || snapshotDue {
                for p in inFlight { await finish(p, consumer) }
                inFlight = []
            }
            if snapshotDue {
                lastSnapshot = ContinuousClock.now
                writeSnapshots()
            }
            // Freed memory goes back to the system every 30 s while busy, and once idle.
            if (records.isEmpty && processedSinceTrim) || ContinuousClock.now - lastTrim > .seconds(30) {
                lastTrim = ContinuousClock.now
                processedSinceTrim = false
                MallocTuning.releaseFreeMemory()
            }
            if records.isEmpty { continue }
            processedSinceTrim = true
            let outputs = process(records)
            // Handed to the producer here, in batch order; acknowledgements are awaited later.
            let sent = producer.enqueue(outputs.records, outputs.batches)
            // The batch's records and parsed events are released by this task once the batch is
            // published, off the loop's thread (freeing thousands of events took a few percent of
            // the time, with the other core idle).
            let spent = (records, outputs.parsed)
            inFlight.append(PendingBatch(published: Task { [self] in
                let published = await publish(outputs.records, outputs.batches, first: sent)
                withExtendedLifetime(spent) {}
                return published
            }, commits: outputs.commits))
            while inFlight.count > Self.batchesInFlight { await finish(inFlight.removeFirst(), consumer) }
        }
        for p in inFlight { await finish(p, consumer) }
        writeSnapshots()
        await consumer.close()
    }

    /// Batches processed ahead of their acknowledgements.
    static let batchesInFlight = 4

    /// A processed batch whose outputs are on their way to the broker.
    struct PendingBatch {
        let published: Task<Bool, Never>
        let commits: [TopicPartition: Int64]
    }

    /// Waits for a batch's outputs to be acknowledged, then commits its offsets. After one batch
    /// could not be published nothing is committed any more, so a restart replays from there.
    func finish(_ batch: PendingBatch, _ consumer: any LogConsumer) async {
        guard await batch.published.value else {
            if !publishFailed.exchange(true) {
                logger.error("a batch could not be published; no further offsets are committed until a restart replays it")
            }
            return
        }
        guard !batch.commits.isEmpty, !publishFailed.load() else { return }
        do {
            try await consumer.commit(batch.commits)
            progress.committed(batch.commits)
        } catch {
            logger.warning("commit failed", ["error": "\(error)"])
        }
    }

    /// Publishes records (enqueued as `first`: `records`, then the batches' records), re-sending
    /// the ones that failed (the idempotent producer keeps that duplicate-free) for up to 30 s;
    /// false if some never went through (then the offsets are not committed and a restart
    /// produces them again — versions make that harmless). A record the log refuses for good (a
    /// profile grown past the broker's message size) goes to `cdp.deadletter` instead: retrying
    /// cannot help, and holding its offsets back would stop every later commit of the partition.
    func publish(_ records: [ProducerRecord], _ batches: [RecordBatch], first: PendingSends) async -> Bool {
        let results = await first.results()
        let failed = RecordBatch.failed(results, records: records, batches: batches)
        let profileRecords = batches.reduce(0) { $0 + $1.count }
        profilesPublished.inc(UInt64(profileRecords - failed.count { $0.record.topic == settings.topics.profiles }))
        var left = settle(failed)
        var delayMs = 100
        let deadline = ContinuousClock.now + .seconds(30)
        while !left.isEmpty {
            if ContinuousClock.now > deadline {
                logger.error("publishing failed; offsets not committed", ["records": String(left.count)])
                return false
            }
            logger.warning("publishing failed; retrying", ["records": String(left.count), "in_ms": String(delayMs)])
            try? await Task.sleep(for: .milliseconds(delayMs))
            delayMs = min(delayMs * 2, 2000)
            let outcomes = await producer.send(left)
            profilesPublished.inc(UInt64(zip(left, outcomes).count { record, result in
                if case .success = result { record.topic == settings.topics.profiles } else { false }
            }))
            left = settle(zip(left, outcomes).compactMap { record, result in
                if case .failure(let error) = result { (record, error) } else { nil }
            })
        }
        return true
    }

    /// The failures worth retrying; the others are replaced by dead letters, sent until they land.
    func settle(_ failures: [(record: ProducerRecord, error: LogError)]) -> [ProducerRecord] {
        var retry: [ProducerRecord] = []
        for (record, error) in failures {
            if error.isRetriable || record.topic == settings.topics.deadletter {
                retry.append(record)
                continue
            }
            unpublishable.inc()
            let size = record.value?.count ?? 0
            let key = record.key.map { String(decoding: $0, as: UTF8.self) }
            logger.error("a record cannot be published; it goes to the dead-letter topic", [
                "topic": record.topic, "key": key ?? "", "bytes": String(size), "error": "\(error)",
            ])
            let value: JSONValue = ["v": 1, "source": ["topic": .string(record.topic), "key": key.map(JSONValue.string) ?? .null],
                                    "reason": .string("could not be published (\(size) bytes): \(error)"),
                                    "original": .string(String(decoding: (record.value ?? []).prefix(Self.deadLetterExcerptBytes), as: UTF8.self))]
            retry.append(ProducerRecord(topic: settings.topics.deadletter, key: record.key, value: value.serializedBytes()))
        }
        return retry
    }

    /// How much of an unpublishable record its dead letter keeps (the dead letter must fit).
    static let deadLetterExcerptBytes = 64 * 1024

    struct Outputs {
        /// Dead letters.
        var records: [ProducerRecord] = []
        /// Profile records, one batch per shard.
        var batches: [RecordBatch] = []
        var commits: [TopicPartition: Int64] = [:]
        /// The batch's events as parsed (kept only to be released later, off the loop's thread).
        var parsed: [Result<EventRecord, EventRecord.ParseError>] = []
    }

    /// Applies a batch; returns what to publish and commit (only for live records). Records are
    /// parsed in parallel, then each shard's accounts are resolved by one thread, in log order.
    func process(_ records: [ConsumerRecord]) -> Outputs {
        var out = Outputs()
        let runs = records.partitionRuns // one pass; used for liveness, commits and positions
        let live = progress.liveness(records, runs: runs)
        let parsed = ParallelWork.map(count: records.count, threads: settings.threads) { i -> Result<EventRecord, EventRecord.ParseError> in
            let record = records[i]
            return Result { () throws(EventRecord.ParseError) in
                try EventRecord.parse(record.value ?? [], fallbackID: "\(record.topic)-\(record.partition)-\(record.offset)",
                                      fallbackTimestampMs: record.timestampMs)
            }
        }
        // Per partition, the offset after its last live record (liveness only grows along a
        // partition, so that is the run's last record when any is live).
        for (tp, range) in runs where live[range.upperBound - 1] { out.commits[tp] = records[range.upperBound - 1].offset + 1 }
        var groups = [[Int]](repeating: [], count: state.shardCount)
        for i in records.indices {
            switch parsed[i] {
            case .success(let event): groups[state.shardIndex(event.account)].append(i)
            case .failure(let error): if live[i] { out.records.append(deadLetter(records[i], reason: "\(error)")) }
            }
        }
        // Shards with events, largest first, claimed by the threads one at a time (what a shard
        // costs is not known in advance); outputs are joined in shard order, so they do not
        // depend on which thread resolved what.
        let busy = groups.indices.filter { !groups[$0].isEmpty }.sorted { (groups[$0].count, $1) > (groups[$1].count, $0) }
        let shardOutputs = ParallelWork.claiming(busy, slots: groups.count, threads: settings.threads) { shard in
            resolve(groups[shard], of: records, live: live, parsed: parsed, in: state.shards[shard])
        }
        for case let (deadLetters, batch)? in shardOutputs {
            out.records += deadLetters
            if !batch.isEmpty { out.batches.append(batch) }
        }
        progress.advance(pastAll: records, runs: runs)
        out.parsed = parsed
        return out
    }

    /// Resolves one shard's events (`indices` into the batch's records, read where they are, not
    /// copied) in log order; returns what to publish: dead letters, and the profile records in
    /// one batch.
    func resolve(_ indices: [Int], of records: [ConsumerRecord], live liveness: [Bool], parsed: [Result<EventRecord, EventRecord.ParseError>],
                 in shard: Locked<ResolverStateData>) -> (deadLetters: [ProducerRecord], profiles: RecordBatch) {
        var out: [ProducerRecord] = []
        var schemas: [String: AccountSchema] = [:]
        // The last output per key in this batch: only the newest state of a profile is published
        // (versions only grow). Profiles are written out as soon as they change, while still in
        // the cache, and not kept decoded until the end of the batch (holding a batch's worth of
        // decoded profiles measured slower: their allocations no longer recycle) — into one
        // buffer for the whole batch, not an array each. The buffer is sized for a typical web
        // profile per live event (most events change one profile), so it seldom grows (and is
        // copied) while the batch is written.
        var live = 0
        for i in indices where liveness[i] { live += 1 }
        var published = RecordBatch(topic: settings.topics.profiles, capacity: live * 1024)
        // Keyed by account and profile id: the record key `<aid>/<id>` is written once per
        // record at the end, not built as a string per event.
        var latest: [ProfileKey: Range<Int>] = [:]
        let scratch = EventMapper.Scratch()
        var order: [ProfileKey] = []
        func emit(_ account: String, _ id: String, _ writeValue: (inout [UInt8]) -> Void) {
            let value = published.write(writeValue)
            let key = ProfileKey(account: account, id: id)
            if latest.updateValue(value, forKey: key) == nil { order.append(key) }
        }
        for i in indices {
            guard case .success(let event) = parsed[i] else { continue }
            let live = liveness[i]
            let account = event.account
            if event.stream == Self.commandStream {
                handleCommand(event, live: live, emit: emit)
                continue
            }
            let schema: AccountSchema
            if let known = schemas[account] {
                schema = known
            } else {
                schema = self.schema(for: account)
                schemas[account] = schema
            }
            let mapped: MappedEvent
            switch EventMapper.map(event, schema: schema, scratch: scratch) {
            case .success(let m): mapped = m
            case .failure(.filtered):
                shard.withLock { $0.streams[account, default: [:]][event.stream, default: StreamStats()].filtered += 1 }
                continue
            case .failure(let e):
                if live { out.append(deadLetter(records[i], reason: "\(e)")) }
                continue
            }
            let storage = settings.profileStorage
            let (resolution, profile) = shard.withLock { s -> (Resolution, Profile?) in
                if s.accountPartition[account] != records[i].partition { s.accountPartition[account] = records[i].partition }
                // One in-place access: copying the graph out of the dictionary would copy its
                // tables, and each lookup hashes the account again.
                let (r, changed) = Self.apply(mapped, to: &s.graphs[account, default: IdentityGraph(account: account, schema: schema.identity, storage: storage)],
                                              schema: schema.identity, live: live)
                s.streams[account, default: [:]][event.stream, default: StreamStats()].note(event, withoutIdentity: r.outcome == .noIdentifier)
                return (r, changed)
            }
            eventsApplied.inc()
            guard live else { continue }
            ProfileRecords.changes(resolution, profile: profile, account: account) { emit(account, $0, $1) }
        }
        for key in order {
            let written = published.write { bytes in
                bytes += key.account.utf8
                bytes.append(UInt8(ascii: "/"))
                bytes += key.id.utf8
            }
            published.append(key: written, value: latest[key]!)
        }
        return (out, published)
    }

    /// Applies one mapped event to its account's graph; returns the resolution and, for live
    /// records, the profile it changed (to publish).
    static func apply(_ mapped: MappedEvent, to graph: inout IdentityGraph, schema: IdentitySchema, live: Bool) -> (Resolution, Profile?) {
        if graph.schema != schema { graph.schema = schema }
        let r = graph.apply(mapped)
        return (r, live ? graph.changedProfile(r) : nil)
    }

    /// A published record's key: `<aid>/<id>`.
    struct ProfileKey: Hashable {
        let account: String
        let id: String
    }

    /// Commands that must be ordered with the events travel on cdp.events in this stream.
    public static let commandStream = "_commands"

    /// `{"command":"delete","field","value","request_id"}`: erase the profiles holding the
    /// identifier — in any form the account's mappings store it in (`AccountSchema.identityForms`:
    /// a person asking to be forgotten as `Ada@X.com` is stored as `ada@x.com`) — publish their
    /// deleted records, remember the request as done.
    func handleCommand(_ event: EventRecord, live: Bool, emit: (String, String, (inout [UInt8]) -> Void) -> Void) {
        guard event.data["command"]?.stringValue == "delete", let field = event.data["field"]?.stringValue,
              let value = event.data["value"]?.stringValue, let requestID = event.data["request_id"]?.stringValue else {
            logger.warning("unknown command on cdp.events ignored", ["id": event.id])
            return
        }
        let forms = schema(for: event.account).identityForms(of: value, field: field)
        let deleted = state.withAccount(event.account) { s -> [(id: String, version: Int64)] in
            var out: [(id: String, version: Int64)] = []
            for form in forms {
                if let d = s.graphs[event.account]?.delete(holding: Identifier(field, form)) { out.append(d) }
            }
            s.deletions[requestID] = (event.account, event.timestampMs, out.map(\.id))
            return out
        }
        if live {
            for d in deleted {
                emit(event.account, d.id) { $0 += ProfileRecords.erased(account: event.account, id: d.id, lastVersion: d.version, requestID: requestID) }
            }
        }
        logger.info("deletion request applied", ["request": requestID, "profiles": deleted.isEmpty ? "none" : deleted.map(\.id).joined(separator: ",")])
    }

    /// The cdp.deadletter record for an event that cannot be used (counted per stream when the
    /// account and stream can be read).
    func deadLetter(_ record: ConsumerRecord, reason: String) -> ProducerRecord {
        deadLettered.inc()
        let value: JSONValue = ["v": 1, "source": ["topic": .string(record.topic), "partition": .int(Int64(record.partition)), "offset": .int(record.offset)],
                                "reason": .string(reason), "original": .string(record.valueString ?? "")]
        let original = try? JSONParser().parse(record.value ?? [])
        if let aid = original?["aid"]?.stringValue, let stream = original?["stream"]?.stringValue {
            state.withAccount(aid) { $0.streams[aid, default: [:]][stream, default: StreamStats()].deadLettered += 1 }
        }
        return ProducerRecord(topic: settings.topics.deadletter, key: record.key, value: value.serializedBytes())
    }
}
