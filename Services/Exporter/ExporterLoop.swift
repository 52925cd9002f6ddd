import ExportCore
import Foundation
import Log
import Model
import Pipeline
import Runtime

extension ExporterApp {
    /// Reads `cdp.memberships` and `cdp.profiles` (co-partitioned, one consumer group) from the
    /// beginning of each assigned partition: the current memberships and profiles are state;
    /// records at or after a lane's recorded position become deliveries for that lane.
    func consume() async throws {
        let follower = Task { await followExports() }
        defer { follower.cancel() }
        while !exportsCaughtUp.load() {
            if Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let consumer = try client.makeConsumer(ConsumerOptions(
            groupID: settings.groupID, clientID: "cdp-exporter-\(settings.instanceID)", sessionTimeoutMs: settings.sessionTimeoutMs,
            // Range assignment gives one member the same partition numbers of both topics.
            extra: ["partition.assignment.strategy": "range"]))
        let topics = settings.topics
        try consumer.subscribe([topics.memberships, topics.profiles], hooks: RebalanceHooks(
            onAssign: { [self] tps in assigned(Set(tps.map(\.partition))) },
            onRevoke: { [self] tps in revoked(Set(tps.map(\.partition))) },
            startOffsets: { [self] tps in Dictionary(uniqueKeysWithValues: tps.map { ($0, startOffset($0)) }) }))
        var warnedFull = false
        var lastSnapshot = clock()
        while !Task.isCancelled {
            if settings.dataDirectory != nil, clock() - lastSnapshot >= settings.snapshotIntervalMs {
                writeSnapshots()
                lastSnapshot = clock()
            }
            guard let records = await consumer.pollBatch(view: view, logger: logger) else { break }
            lag.update(from: consumer)
            await learnEnds(consumer)
            if !records.isEmpty { apply(records) }
            await syncLanes()
            // Back-pressure: a lane far behind holds intake (bounded memory) until it drains.
            while !Task.isCancelled, let full = lanes.withLock({ $0.values.first { l in l.queue.withLock { $0.count } >= settings.laneQueueLimit } }) {
                if !warnedFull {
                    logger.warning("a job's queue is full; intake waits for it", ["job": full.key.job, "partition": String(full.key.partition),
                                                                                   "limit": String(settings.laneQueueLimit)])
                    warnedFull = true
                }
                try? await Task.sleep(for: .milliseconds(50))
                await syncLanes()
            }
            warnedFull = false
        }
        // Finish the batches in hand (and record them) before leaving the group.
        await finishAllLanes(timeoutMs: 8000)
        writeSnapshots()
        await consumer.close()
    }

    /// New partitions: empty state, and lanes for the jobs whose position `cdp.exports` records
    /// (same generation), so records past that position are delivered while rebuilding.
    func assigned(_ ps: Set<Int32>) {
        // The partitions count as rebuilding from here on: readiness must not see the first
        // assignment made but no partition in it while snapshots are being read.
        partitions.withLock { parts in
            for p in ps { parts[p] = PartitionState() }
        }
        everAssigned.store(true)
        let restored = Dictionary(uniqueKeysWithValues: ps.compactMap { p in restoreSnapshot(p).map { (p, $0) } })
        partitions.withLock { parts in
            for p in ps {
                var state = restored[p] ?? PartitionState()
                state.restored = restored[p] != nil
                parts[p] = state
            }
        }
        let jobs = jobs()
        let recorded = exports.withLock { $0.lanes }
        for p in ps.sorted() {
            for job in jobs {
                let key = ExportsState.LaneKey(account: job.account, job: job.id, partition: p)
                guard let r = recorded[key], r.position.generation == job.generation else { continue }
                startLane(key, job: job, position: r.position, totals: (r.delivered, r.deadLettered))
            }
        }
        logger.info("partitions assigned", ["partitions": ps.sorted().map(String.init).joined(separator: ",")])
    }

    func revoked(_ ps: Set<Int32>) {
        let gone = lanes.withLock { l -> [Lane] in
            let victims = l.filter { ps.contains($0.key.partition) }
            for k in victims.keys { l[k] = nil }
            return Array(victims.values)
        }
        for lane in gone { lane.stop() }
        partitions.withLock { parts in for p in ps { parts[p] = nil } }
        logger.info("partitions revoked", ["partitions": ps.sorted().map(String.init).joined(separator: ",")])
    }

    @discardableResult
    func startLane(_ key: ExportsState.LaneKey, job: ExportJob, position: LanePosition, totals: (Int64, Int64), existing: [DeliveryItem] = []) -> Lane {
        let version = view.read { $0.document(ConfigKey(account: job.account, kind: "job", id: job.id))?.version ?? 0 }
        let lane = Lane(key: key, position: position, job: job, slugs: slugs(account: job.account), version: version, totals: totals)
        if !existing.isEmpty { lane.queue.withLock { $0.append(existing, atMs: clock()) } }
        lane.wakeup.signal()
        let old = lanes.withLock { l -> Lane? in
            defer { l[key] = lane }
            return l[key]
        }
        old?.stop()
        lane.start { [self] in await runLane($0) }
        return lane
    }

    /// The end offsets of newly assigned partitions (readiness: caught up once reached).
    func learnEnds(_ consumer: any LogConsumer) async {
        let missing = partitions.withLock { $0.filter { $0.value.membershipsEnd == nil || $0.value.profilesEnd == nil }.keys.sorted() }
        for p in missing {
            guard let m = try? await consumer.watermarks(TopicPartition(settings.topics.memberships, p)),
                  let pr = try? await consumer.watermarks(TopicPartition(settings.topics.profiles, p)) else { continue }
            partitions.withLock { parts in
                parts[p]?.membershipsEnd = m.high
                parts[p]?.profilesEnd = pr.high
            }
        }
    }

    /// Folds records into the partition state and derives the deliveries of live lanes.
    func apply(_ records: [ConsumerRecord]) {
        let now = clock()
        let byPartition = Dictionary(grouping: lanes.withLock { Array($0.values) }, by: \.key.partition)
        partitions.withLock { parts in
            for r in records where parts[r.partition] != nil {
                // In place (parts[p]! is modified, not copied): the maps are large.
                apply(r, to: &parts[r.partition]!, lanes: byPartition[r.partition] ?? [], now: now)
            }
        }
        updateQueueGauges()
    }

    /// Queued events, in total and per job.
    func updateQueueGauges() {
        var perJob: [String: Int] = [:]
        for lane in lanes.withLock({ Array($0.values) }) {
            perJob["\(lane.key.account)/\(lane.key.job)", default: 0] += lane.queue.withLock { $0.count }
        }
        queuedGauge.set(Double(perJob.values.reduce(0, +)))
        for (key, count) in perJob {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            monitor(account: parts[0], job: parts.count > 1 ? parts[1] : "").queued.set(Double(count))
        }
    }

    private func apply(_ r: ConsumerRecord, to ps: inout PartitionState, lanes: [Lane], now: Int64) {
        if r.topic == settings.topics.memberships {
            ps.membershipsNext = r.offset + 1
            guard let value = r.value, let m = MembershipRecord.parse(value) else { return }
            let key = m.account + "/" + m.profile
            ps.memberships[key] = m.segments.isEmpty ? nil : m.segments
            for lane in lanes where lane.key.account == m.account {
                let job = lane.job
                guard !job.paused, job.keepUpdated else { continue }
                let derivation = lane.derivation
                let queued = lane.queue.withLock { q -> Bool in
                    guard q.isLive(membershipOffset: r.offset) else { return false }
                    let items = derivation.items(for: m, offset: r.offset)
                    q.append(items, atMs: now)
                    return !items.isEmpty
                }
                if queued { lane.wakeup.signal() }
            }
        } else if r.topic == settings.topics.profiles {
            ps.profilesNext = r.offset + 1
            guard let value = r.value, let j = try? JSONParser().parse(value), let account = j["aid"]?.stringValue,
                  let id = j["id"]?.stringValue else { return }
            let key = account + "/" + id
            if j["deleted"] == .bool(true) {
                ps.profiles[key] = nil
                return
            }
            let new = ProfileSnapshot(identities: j["identities"]?.objectValue ?? [:], fields: j["fields"]?.objectValue ?? [:],
                                      version: j["version"]?.intValue ?? 0)
            if let old = ps.profiles[key], old.version > new.version { return }  // a stale record
            let old = ps.profiles.updateValue(new, forKey: key)
            guard let segments = ps.memberships[key], !segments.isEmpty else { return }
            let ts = j["updated"]?.stringValue.flatMap(RFC3339.parseMs) ?? now
            for lane in lanes where lane.key.account == account {
                let job = lane.job
                guard !job.paused, job.keepUpdated, !job.triggerFields.isEmpty else { continue }
                let derivation = lane.derivation
                let queued = lane.queue.withLock { q -> Bool in
                    guard q.isLive(profileOffset: r.offset),
                          let item = derivation.update(profile: id, segments: segments, old: old?.fields, new: new.fields, offset: r.offset, tsMs: ts) else { return false }
                    q.append([item], atMs: now)
                    return true
                }
                if queued { lane.wakeup.signal() }
            }
        }
    }

    /// Brings lanes in line with the jobs: starts new jobs and new generations (with the
    /// existing-users sync) on caught-up partitions, follows edits, stops deleted jobs, and
    /// records idle lanes' positions.
    func syncLanes() async {
        let jobs = jobs()
        let byKey = Dictionary(jobs.map { ("\($0.account)/\($0.id)", $0) }, uniquingKeysWith: { a, _ in a })
        let caughtUp = partitions.withLock { $0.filter { $0.value.caughtUp }.mapValues { ($0.membershipsNext, $0.profilesNext) } }
        let now = clock()
        var writes: [ExportsRecord] = []
        var checkpoints: [ExportsRecord] = []
        // Deleted jobs stop.
        let gone = lanes.withLock { l -> [Lane] in
            let victims = l.filter { byKey["\($0.key.account)/\($0.key.job)"] == nil }
            for k in victims.keys { l[k] = nil }
            return Array(victims.values)
        }
        for lane in gone {
            lane.stop()
            logger.info("export job removed; its lane stopped", ["job": lane.key.job, "partition": String(lane.key.partition)])
        }
        // A removed job's HTTP client (its connections) and alert chain go with it (requests
        // still running keep the client until they end).
        httpClients.withLock { clients in for key in clients.keys where byKey[key] == nil { clients[key] = nil } }
        alertChains.withLock { chains in for key in chains.keys where byKey[key] == nil { chains[key] = nil } }
        for job in jobs {
            let version = view.read { $0.document(ConfigKey(account: job.account, kind: "job", id: job.id))?.version ?? 0 }
            for (p, next) in caughtUp.sorted(by: { $0.key < $1.key }) {
                let key = ExportsState.LaneKey(account: job.account, job: job.id, partition: p)
                let lane = lanes.withLock { $0[key] }
                if let lane, lane.queue.withLock({ $0.position.generation }) == job.generation {
                    if lane.definition.withLock({ $0.version }) != version {
                        let derivation = ItemDerivation(job: job, slugs: slugs(account: job.account), partition: p)
                        lane.definition.withLock { $0 = (job, derivation, version) }
                    }
                    if lane.needsExisting.exchange(false), let record = resumeExisting(lane) { writes.append(record) }
                    if let record = checkpoint(lane, next: next, now: now) { checkpoints.append(record) }
                    continue
                }
                // A job new to this partition, or restarted (new generation): start from here.
                let recorded = exports.withLock { $0.lanes[key] }
                let derivation = ItemDerivation(job: job, slugs: slugs(account: job.account), partition: p)
                let existing = job.existingUsers ? existingItems(derivation, partition: p, after: nil) : []
                let position = LanePosition(generation: job.generation, memberships: next.0, profiles: next.1, existingDone: existing.isEmpty)
                let totals = (recorded?.delivered ?? 0, recorded?.deadLettered ?? 0)
                let started = startLane(key, job: job, position: position, totals: totals, existing: existing)
                started.needsExisting.store(false)
                monitor(account: job.account, job: job.id).log("info", "job started on partition \(p) (generation \(job.generation))", atMs: now, partition: p)
                writes.append(.lane(.init(account: job.account, job: job.id, partition: p, position: position, status: "start", batchID: nil,
                                          delivered: totals.0, deadLettered: totals.1, atMs: now)))
            }
        }
        updateQueueGauges()
        if !writes.isEmpty { _ = await record(writes) }
        // Checkpoints only shorten a later replay: written without holding up intake.
        if !checkpoints.isEmpty { Task { [checkpoints] in _ = await record(checkpoints, attempts: 3) } }
    }

    /// The existing-users sync: an enter for every current member of the job's audiences on the
    /// partition (after `cursor`, when resuming a sync cut short by a restart).
    func existingItems(_ derivation: ItemDerivation, partition: Int32, after cursor: String?) -> [DeliveryItem] {
        let prefix = derivation.job.account + "/"
        let members = partitions.withLock { parts -> [(profile: String, segments: Set<String>)] in
            (parts[partition]?.memberships ?? [:]).compactMap { key, segments in
                guard key.hasPrefix(prefix) else { return nil }
                let profile = String(key.dropFirst(prefix.count))
                if let cursor, profile <= cursor { return nil }
                return (profile, segments)
            }
        }
        let items = derivation.existing(members, tsMs: clock())
        if !items.isEmpty {
            logger.info("existing-users sync queued", ["job": derivation.job.id, "partition": String(partition), "events": String(items.count)])
        }
        return items
    }

    /// Resumes an existing-users sync that a restart cut short; returns the lane record to
    /// write when there was nothing left to send.
    func resumeExisting(_ lane: Lane) -> ExportsRecord? {
        let items = existingItems(lane.derivation, partition: lane.key.partition, after: lane.queue.withLock { $0.position.existingCursor })
        let position = lane.queue.withLock { q -> LanePosition? in
            if items.isEmpty { return q.acknowledge(0) }
            q.append(items, atMs: clock())
            return nil
        }
        lane.wakeup.signal()
        guard let position else { return nil }
        let totals = lane.totals.withLock { $0 }
        return .lane(.init(account: lane.key.account, job: lane.key.job, partition: lane.key.partition, position: position, status: "checkpoint",
                           batchID: nil, delivered: totals.delivered, deadLettered: totals.dead, atMs: clock()))
    }

    /// An idle lane's position moves up to what the consumer has read (so a restart replays
    /// little); recorded at most every `checkpointIdleMs`.
    func checkpoint(_ lane: Lane, next: (Int64, Int64), now: Int64) -> ExportsRecord? {
        guard lane.idle.load(), now - lane.lastCheckpointMs.withLock({ $0 }) >= settings.checkpointIdleMs else { return nil }
        guard let position = lane.queue.withLock({ q -> LanePosition? in q.advanceIdle(memberships: next.0, profiles: next.1) ? q.position : nil }) else { return nil }
        lane.lastCheckpointMs.withLock { $0 = now }
        let totals = lane.totals.withLock { $0 }
        return .lane(.init(account: lane.key.account, job: lane.key.job, partition: lane.key.partition, position: position, status: "checkpoint",
                           batchID: nil, delivered: totals.delivered, deadLettered: totals.dead, atMs: now))
    }

    /// Follows `cdp.exports` (every partition): lane positions written by any instance, dead letters.
    func followExports() async {
        let topic = settings.topics.exports
        var partitionCount = 0
        while !Task.isCancelled, partitionCount == 0 {
            if let info = try? await client.makeAdmin().listTopics().first(where: { $0.name == topic }) {
                partitionCount = info.partitions
            } else {
                logger.info("waiting for \(topic) to exist")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        guard let consumer = try? client.makeConsumer(ConsumerOptions(groupID: nil, clientID: "cdp-exporter-exports-\(settings.instanceID)")) else { return }
        var ends: [TopicPartition: Int64] = [:]
        var offsets: [TopicPartition: Int64] = [:]
        for p in 0..<partitionCount {
            let tp = TopicPartition(topic, Int32(p))
            offsets[tp] = Offset.beginning
            if let marks = try? await consumer.watermarks(tp), marks.high > marks.low { ends[tp] = marks.high }
        }
        do {
            try consumer.assign(offsets)
        } catch {
            logger.error("cannot read \(topic)", ["error": "\(error)"])
            return
        }
        var next: [TopicPartition: Int64] = [:]
        var count = 0
        if ends.isEmpty { exportsCaughtUp.store(true) }
        while !Task.isCancelled {
            let records: [ConsumerRecord]
            do {
                records = try await consumer.poll(max: 2000, timeoutMs: 100)
            } catch LogError.closed {
                break
            } catch {
                logger.warning("\(topic) poll failed", ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            let parsed = records.compactMap { r -> ExportsRecord? in
                next[r.topicPartition] = r.offset + 1
                return r.value.flatMap(ExportsRecord.parse)
            }
            count += parsed.count
            exports.withLock { s in for r in parsed { s.apply(r) } }
            if !exportsCaughtUp.load(), ends.allSatisfy({ (next[$0.key] ?? 0) >= $0.value }) {
                exportsCaughtUp.store(true)
                logger.info("read \(topic)", ["records": String(count)])
            }
        }
        await consumer.close()
    }
}
