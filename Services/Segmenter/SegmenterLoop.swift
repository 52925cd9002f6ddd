import Foundation
import Log
import Model
import QL
import Runtime
import SegmentCore

extension SegmenterApp {
    /// Reads `cdp.profiles` from the beginning of each assigned partition (state only before the
    /// committed offset), evaluates audiences, publishes transitions, re-evaluates profiles whose
    /// relative-date audiences flip, and backfills when audiences change.
    func consume() async throws {
        published.withLock { $0 = [:] }
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: settings.groupID, clientID: "cdp-segmenter-\(settings.instanceID)",
                                                               sessionTimeoutMs: settings.sessionTimeoutMs))
        try consumer.subscribe([settings.topics.profiles], hooks: RebalanceHooks(
            onAssign: { [self] tps in
                progress.assign(tps)
                let assigned = Set(tps.map(\.partition))
                // Another replica may have published for them until now (even for the first
                // assignment: the group join takes seconds): read before their records apply.
                pendingPartitions.withLock { p in
                    p.readBack.formUnion(assigned)
                    p.reconcile.formUnion(assigned)
                }
            },
            onRevoke: { [self] tps in
                progress.revoke(tps)
                let revoked = Set(tps.map(\.partition))
                states.withLock { all in all = all.filter { !revoked.contains($0.key.partition) } }
                // What this instance knew was published there goes stale once another replica publishes.
                published.withLock { p in for r in revoked { p?[r] = nil } }
                publishedHistory.withLock { h in for r in revoked { h[r] = nil } }
                pendingPartitions.withLock { p in
                    p.readBack.subtract(revoked)
                    p.reconcile.subtract(revoked)
                }
            },
            startOffsets: { [self] tps in progress.startOffsets(tps, restore: restoreSnapshot) }))
        var lastSnapshot = clock()
        var lastTrim = clock()
        var busySinceTrim = false
        while !Task.isCancelled {
            if settings.dataDirectory != nil, clock() - lastSnapshot >= settings.snapshotIntervalMs {
                writeSnapshots()
                lastSnapshot = clock()
            }
            guard let records = await consumer.pollBatch(view: view, logger: logger) else { break }
            lag.update(from: consumer)
            let readBack = pendingPartitions.withLock { p in defer { p.readBack = [] }; return p.readBack }
            if !readBack.isEmpty { await loadPublishedMemberships(partitions: readBack) }
            await progress.learnCommitted(from: consumer)
            // Freed memory goes back to the system every 30 s while busy, and once idle.
            if (records.isEmpty && busySinceTrim) || clock() - lastTrim >= 30_000 {
                lastTrim = clock()
                busySinceTrim = false
                MallocTuning.releaseFreeMemory()
            }
            busySinceTrim = busySinceTrim || !records.isEmpty
            var out: [ProducerRecord] = []
            var commits: [TopicPartition: Int64] = [:]
            let now = clock()
            for r in records {
                let live = progress.advance(past: r)
                if live { commits[r.topicPartition] = r.offset + 1 }
                guard let value = r.value, let profile = ProfileRecord.parse(value) else { continue }
                out += apply(profile, partition: r.partition, now: now, publish: live)
            }
            profileRecords.inc(UInt64(records.count))
            // Time-window flips and audience changes are acted on once caught up; partitions
            // assigned since the last time are first reconciled with what cdp.memberships says.
            if progress.caughtUp {
                let due = pendingPartitions.withLock { p in defer { p.reconcile = [] }; return p.reconcile }
                if !due.isEmpty { out += reconcile(now: now, partitions: due) }
                out += refresh(now: now)
            }
            if !out.isEmpty {
                let results = await producer.send(out)
                if results.contains(where: { if case .failure = $0 { true } else { false } }) {
                    logger.error("publishing memberships failed; offsets not committed")
                    continue
                }
                transitionsPublished.inc(UInt64(out.count))
            }
            if !commits.isEmpty { try? await consumer.commit(commits) }
        }
        writeSnapshots()
        await consumer.close()
    }

    /// Reads the assigned partitions of cdp.memberships (co-partitioned with cdp.profiles) to
    /// their end: the last published audiences of every profile there, and the size history.
    func loadPublishedMemberships(partitions only: Set<Int32>) async {
        var published: [Int32: [String: (version: Int64, segments: Set<String>)]] = [:]
        var history: [Int32: [String: [String: SizeHistory]]] = [:]
        var complete = false
        do {
            let topic = settings.topics.memberships
            guard let info = try await client.makeAdmin().listTopics().first(where: { $0.name == topic }) else {
                // Nothing published yet.
                self.published.withLock { p in for part in only { p?[part] = [:] } }
                publishedHistory.withLock { h in for part in only { h[part] = nil } }
                return
            }
            let consumer = try client.makeConsumer(ConsumerOptions(groupID: nil, clientID: "cdp-segmenter-readback-\(settings.instanceID)"))
            var ends: [TopicPartition: Int64] = [:]
            var offsets: [TopicPartition: Int64] = [:]
            for p in 0..<info.partitions where only.contains(Int32(p)) {
                let tp = TopicPartition(topic, Int32(p))
                let marks = try await consumer.watermarks(tp)
                if marks.high > marks.low { ends[tp] = marks.high }
                offsets[tp] = Offset.beginning
                published[Int32(p)] = [:]
            }
            try consumer.assign(offsets)
            var done: [TopicPartition: Int64] = [:]
            var idle = 0
            while ends.contains(where: { (done[$0.key] ?? 0) < $0.value }), idle < 50 {
                let records = try await consumer.poll(max: 5000, timeoutMs: 200)
                idle = records.isEmpty ? idle + 1 : 0
                for r in records {
                    done[r.topicPartition] = r.offset + 1
                    guard let key = r.keyString, let v = try? JSONParser().parse(r.value ?? []), let version = v["version"]?.intValue else { continue }
                    let account = String(key.split(separator: "/").first ?? "")
                    for t in v["transitions"]?.arrayValue ?? [] {
                        guard let seg = t["segment"]?.stringValue, let action = t["action"]?.stringValue.flatMap(Transition.Action.init(rawValue:)),
                              let ts = t["ts"]?.stringValue.flatMap(DateMath.parseDate) else { continue }
                        history[r.partition, default: [:]][account, default: [:]][seg, default: SizeHistory()].record(action, atMs: ts)
                    }
                    if let seen = published[r.partition]?[key], seen.version > version { continue }
                    published[r.partition, default: [:]][key] = (version, Set((v["segments"]?.arrayValue ?? []).compactMap(\.stringValue)))
                }
            }
            await consumer.close()
            complete = !ends.contains(where: { (done[$0.key] ?? 0) < $0.value })
        } catch {
            logger.warning("could not read cdp.memberships back", ["error": "\(error)"])
        }
        let read = published.mapValues { $0.mapValues(\.segments) }
        if complete {
            self.published.withLock { p in for part in only { p?[part] = read[part] ?? [:] } }
            publishedHistory.withLock { h in for part in only { h[part] = history[part] } }
        } else {
            // Unknown: neither compared nor reconciled (a restart reads them again).
            self.published.withLock { p in for part in only { p?[part] = nil } }
            pendingPartitions.withLock { $0.reconcile.subtract(only) }
            logger.warning("published memberships of assigned partitions could not be read; they are not reconciled",
                           ["partitions": only.sorted().map(String.init).joined(separator: ",")])
        }
        logger.info("read published memberships", ["profiles": String(read.values.reduce(0) { $0 + $1.count }),
                                                    "partitions": only.sorted().map(String.init).joined(separator: ",")])
    }

    /// Once `partitions` have been rebuilt: publishes, for every profile there, the difference
    /// between what it belongs to now and what cdp.memberships last said (flips that happened
    /// while nobody owned the partition, audience edits) — and exits for profiles that no
    /// longer exist. Nothing else is repeated.
    func reconcile(now: Int64, partitions: Set<Int32>) -> [ProducerRecord] {
        guard var published = published.withLock({ $0 }) else { return [] }
        let out = states.withLock { all -> [ProducerRecord] in
            var out: [ProducerRecord] = []
            for partition in partitions.sorted() {
                guard var known = published[partition] else { continue }
                var seen = Set<String>()
                for key in all.keys.filter({ $0.partition == partition }).sorted() {
                    let account = key.account
                    // Taken out of the map while it changes, so its large maps are not copied.
                    var state = all.removeValue(forKey: key)!
                    if let audiences = audiences(for: account, &state) {
                        state.evaluatedFingerprint = state.fingerprint
                        for id in state.profiles.keys.sorted() {
                            let p = state.profiles[id]!
                            let name = "\(account)/\(id)"
                            seen.insert(name)
                            var (members, flip) = audiences.evaluate(p.fields, nowMs: now)
                            if state.unhealthy.contains(id) { (members, flip) = ([], nil) }
                            state.flips.schedule(id, at: flip)
                            _ = state.memberships.update(profile: id, version: p.version, audiences: members, atMs: now, force: true)
                            let before = known[name] ?? []
                            if before != members {
                                let exits = before.subtracting(members).sorted().map { Transition(action: .exit, audience: $0, profile: id, version: p.version, atMs: now) }
                                let enters = members.subtracting(before).sorted().map { Transition(action: .enter, audience: $0, profile: id, version: p.version, atMs: now) }
                                state.recordHistory(exits + enters)
                                out.append(record(account: account, profile: id, version: p.version, current: members, transitions: exits + enters))
                                known[name] = members
                            }
                        }
                    }
                    all[key] = state
                }
                for (name, segments) in known.sorted(by: { $0.key < $1.key }) where !seen.contains(name) && !segments.isEmpty {
                    let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
                    guard parts.count == 2, all[StateKey(account: parts[0], partition: partition)] != nil else { continue }
                    let exits = segments.sorted().map { Transition(action: .exit, audience: $0, profile: parts[1], version: 0, atMs: now) }
                    out.append(record(account: parts[0], profile: parts[1], version: 0, current: [], transitions: exits))
                    known[name] = []
                }
                published[partition] = known
            }
            return out
        }
        // What was just published is what cdp.memberships now says.
        self.published.withLock { p in for part in partitions where p?[part] != nil { p?[part] = published[part] } }
        if !out.isEmpty {
            logger.info("reconciled memberships after the rebuild", ["records": String(out.count), "partitions": partitions.sorted().map(String.init).joined(separator: ",")])
        }
        return out
    }

    /// The audiences last published for a profile (nil: nothing known, e.g. never published).
    func lastPublished(_ partition: Int32, _ account: String, _ profile: String) -> Set<String>? {
        published.withLock { $0?[partition]?[account + "/" + profile] }
    }

    /// Remembers what was published for a profile, so the post-rebuild reconciliation compares
    /// against the latest published state, not only the one read at start.
    func notePublished(_ partition: Int32, _ account: String, _ profile: String, _ segments: Set<String>) {
        published.withLock { p in
            if p?[partition] != nil { p![partition]![account + "/" + profile] = segments }
        }
    }

    /// Applies one profile record; returns the membership record to publish (if any).
    func apply(_ profile: ProfileRecord, partition: Int32, now: Int64, publish: Bool) -> [ProducerRecord] {
        let key = StateKey(account: profile.account, partition: partition)
        return states.withLock { all in
            // Taken out of the map while it changes, so its large maps are not copied.
            var state = all.removeValue(forKey: key) ?? AccountSegments()
            defer { all[key] = state }
            if let seen = state.profiles[profile.id], seen.version > profile.version { return [] }
            let transitions: [Transition]
            let before = state.memberships.current[profile.id] ?? []
            if profile.deleted {
                state.profiles[profile.id] = nil
                state.unhealthy.remove(profile.id)
                state.flips.schedule(profile.id, at: nil)
                transitions = state.memberships.remove(profile: profile.id, version: profile.version, atMs: now)
            } else {
                state.profiles[profile.id] = (profile.version, profile.fields)
                guard let audiences = audiences(for: profile.account, &state) else { return [] }
                var (members, flip) = audiences.evaluate(profile.fields, nowMs: now)
                if profile.unhealthy {
                    // Unhealthy profiles are in no audience (and need no timer).
                    members = []
                    flip = nil
                    state.unhealthy.insert(profile.id)
                } else {
                    state.unhealthy.remove(profile.id)
                }
                state.flips.schedule(profile.id, at: flip)
                transitions = state.memberships.update(profile: profile.id, version: profile.version, audiences: members, atMs: now)
            }
            guard publish, !transitions.isEmpty else { return [] }
            let current = state.memberships.current[profile.id] ?? []
            var announced = transitions
            // After a crash, records past the committed offset are applied again: what was
            // already published for them is not announced twice (compared with cdp.memberships
            // as read back at start and kept up to date since).
            if let last = lastPublished(partition, profile.account, profile.id), last != before {
                // Usually what was published is what the state held: the transitions stand.
                if last == current { return [] }
                announced = last.subtracting(current).sorted().map { Transition(action: .exit, audience: $0, profile: profile.id, version: profile.version, atMs: now) }
                    + current.subtracting(last).sorted().map { Transition(action: .enter, audience: $0, profile: profile.id, version: profile.version, atMs: now) }
            }
            state.recordHistory(announced)
            notePublished(partition, profile.account, profile.id, current)
            return [record(account: profile.account, profile: profile.id, version: profile.version, current: current, transitions: announced)]
        }
    }

    /// Re-evaluates profiles whose flip time has come, and every profile of an account whose
    /// audiences changed (backfill).
    func refresh(now: Int64) -> [ProducerRecord] {
        states.withLock { all in
            var out: [ProducerRecord] = []
            for key in all.keys.sorted() {
                let account = key.account
                // Taken out of the map while it changes, so its large maps are not copied.
                var state = all.removeValue(forKey: key)!
                guard let audiences = audiences(for: account, &state) else {
                    all[key] = state
                    continue
                }
                let changed = state.evaluatedFingerprint != state.fingerprint
                state.evaluatedFingerprint = state.fingerprint
                let ids = changed ? Array(state.profiles.keys).sorted() : state.flips.due(now)
                if changed, !ids.isEmpty {
                    logger.info("audiences changed; re-evaluating the account", ["account": account, "partition": String(key.partition), "profiles": String(ids.count)])
                }
                for id in ids {
                    guard let p = state.profiles[id] else { continue }
                    var (members, flip) = audiences.evaluate(p.fields, nowMs: now)
                    if state.unhealthy.contains(id) { (members, flip) = ([], nil) }
                    state.flips.schedule(id, at: flip)
                    let transitions = state.memberships.update(profile: id, version: p.version, audiences: members, atMs: now, force: true)
                    if !transitions.isEmpty {
                        state.recordHistory(transitions)
                        notePublished(key.partition, account, id, members)
                        out.append(record(account: account, profile: id, version: p.version, current: members, transitions: transitions))
                    }
                }
                all[key] = state
            }
            return out
        }
    }
}
