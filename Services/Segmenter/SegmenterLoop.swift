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
        await loadPublishedMemberships()
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: settings.groupID, clientID: "cdp-segmenter-\(settings.instanceID)",
                                                               sessionTimeoutMs: settings.sessionTimeoutMs))
        try consumer.subscribe([settings.topics.profiles], hooks: RebalanceHooks(
            onAssign: { [self] tps in
                progress.assign(tps)
            },
            onRevoke: { [self] tps in
                progress.revoke(tps)
                let revoked = Set(tps.map(\.partition))
                accounts.withLock { all in all = all.filter { !revoked.contains($0.value.partition) } }
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
            // Time-window flips and audience changes are acted on once caught up; the first time,
            // what was published before the restart is reconciled with the rebuilt state.
            if progress.caughtUp {
                if !reconciled.exchange(true) { out += reconcile(now: now) }
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

    /// Reads cdp.memberships to its end: the last published audiences of every profile.
    func loadPublishedMemberships() async {
        var published: [String: (version: Int64, segments: Set<String>)] = [:]
        do {
            let topic = settings.topics.memberships
            guard let info = try await client.makeAdmin().listTopics().first(where: { $0.name == topic }) else {
                self.published.withLock { $0 = [:] }
                return
            }
            let consumer = try client.makeConsumer(ConsumerOptions(groupID: nil, clientID: "cdp-segmenter-readback-\(settings.instanceID)"))
            var ends: [TopicPartition: Int64] = [:]
            var offsets: [TopicPartition: Int64] = [:]
            for p in 0..<info.partitions {
                let tp = TopicPartition(topic, Int32(p))
                let marks = try await consumer.watermarks(tp)
                if marks.high > marks.low { ends[tp] = marks.high }
                offsets[tp] = Offset.beginning
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
                        publishedHistory.withLock { $0[account, default: [:]][seg, default: SizeHistory()].record(action, atMs: ts) }
                    }
                    if let seen = published[key], seen.version > version { continue }
                    published[key] = (version, Set((v["segments"]?.arrayValue ?? []).compactMap(\.stringValue)))
                }
            }
            await consumer.close()
        } catch {
            logger.warning("could not read cdp.memberships back; differences will not be reconciled", ["error": "\(error)"])
        }
        self.published.withLock { $0 = published.mapValues(\.segments) }
        logger.info("read published memberships", ["profiles": String(published.count)])
    }

    /// After the rebuild: publishes, for every profile, the difference between what it belongs
    /// to now and what was last published (flips that happened while the segmenter was down,
    /// audience edits) — and exits for profiles that no longer exist. Nothing else is repeated.
    func reconcile(now: Int64) -> [ProducerRecord] {
        guard let published = published.withLock({ $0 }) else { return [] }
        return accounts.withLock { all in
            var out: [ProducerRecord] = []
            var seen = Set<String>()
            for account in all.keys.sorted() {
                // Taken out of the map while it changes, so its large maps are not copied.
                var state = all.removeValue(forKey: account)!
                if let audiences = audiences(for: account, &state) {
                    state.evaluatedFingerprint = state.fingerprint
                    for id in state.profiles.keys.sorted() {
                        let p = state.profiles[id]!
                        let key = "\(account)/\(id)"
                        seen.insert(key)
                        var (members, flip) = audiences.evaluate(p.fields, nowMs: now)
                        if state.unhealthy.contains(id) { (members, flip) = ([], nil) }
                        state.flips.schedule(id, at: flip)
                        _ = state.memberships.update(profile: id, version: p.version, audiences: members, atMs: now, force: true)
                        let before = published[key] ?? []
                        if before != members {
                            let exits = before.subtracting(members).sorted().map { Transition(action: .exit, audience: $0, profile: id, version: p.version, atMs: now) }
                            let enters = members.subtracting(before).sorted().map { Transition(action: .enter, audience: $0, profile: id, version: p.version, atMs: now) }
                            state.recordHistory(exits + enters)
                            out.append(record(account: account, profile: id, version: p.version, current: members, transitions: exits + enters))
                        }
                    }
                }
                all[account] = state
            }
            for (key, segments) in published where !seen.contains(key) && !segments.isEmpty {
                let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, all[parts[0]] != nil else { continue }
                let exits = segments.sorted().map { Transition(action: .exit, audience: $0, profile: parts[1], version: 0, atMs: now) }
                out.append(record(account: parts[0], profile: parts[1], version: 0, current: [], transitions: exits))
            }
            if !out.isEmpty { logger.info("reconciled memberships after the rebuild", ["records": String(out.count)]) }
            return out
        }
    }

    /// The audiences last published for a profile (nil: nothing known, e.g. never published).
    func lastPublished(_ account: String, _ profile: String) -> Set<String>? {
        published.withLock { $0?[account + "/" + profile] }
    }

    /// Remembers what was published for a profile, so the post-rebuild reconciliation compares
    /// against the latest published state, not only the one read at start.
    func notePublished(_ account: String, _ profile: String, _ segments: Set<String>) {
        published.withLock { p in
            if p != nil { p![account + "/" + profile] = segments }
        }
    }

    /// Applies one profile record; returns the membership record to publish (if any).
    func apply(_ profile: ProfileRecord, partition: Int32, now: Int64, publish: Bool) -> [ProducerRecord] {
        accounts.withLock { all in
            // Taken out of the map while it changes, so its large maps are not copied.
            var state = all.removeValue(forKey: profile.account) ?? AccountSegments()
            state.partition = partition
            defer { all[profile.account] = state }
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
            if let last = lastPublished(profile.account, profile.id), last != before {
                // Usually what was published is what the state held: the transitions stand.
                if last == current { return [] }
                announced = last.subtracting(current).sorted().map { Transition(action: .exit, audience: $0, profile: profile.id, version: profile.version, atMs: now) }
                    + current.subtracting(last).sorted().map { Transition(action: .enter, audience: $0, profile: profile.id, version: profile.version, atMs: now) }
            }
            state.recordHistory(announced)
            notePublished(profile.account, profile.id, current)
            return [record(account: profile.account, profile: profile.id, version: profile.version, current: current, transitions: announced)]
        }
    }

    /// Re-evaluates profiles whose flip time has come, and every profile of an account whose
    /// audiences changed (backfill).
    func refresh(now: Int64) -> [ProducerRecord] {
        accounts.withLock { all in
            var out: [ProducerRecord] = []
            for account in all.keys.sorted() {
                // Taken out of the map while it changes, so its large maps are not copied.
                var state = all.removeValue(forKey: account)!
                guard let audiences = audiences(for: account, &state) else {
                    all[account] = state
                    continue
                }
                let changed = state.evaluatedFingerprint != state.fingerprint
                state.evaluatedFingerprint = state.fingerprint
                let ids = changed ? Array(state.profiles.keys).sorted() : state.flips.due(now)
                if changed, !ids.isEmpty {
                    logger.info("audiences changed; re-evaluating the account", ["account": account, "profiles": String(ids.count)])
                }
                for id in ids {
                    guard let p = state.profiles[id] else { continue }
                    var (members, flip) = audiences.evaluate(p.fields, nowMs: now)
                    if state.unhealthy.contains(id) { (members, flip) = ([], nil) }
                    state.flips.schedule(id, at: flip)
                    let transitions = state.memberships.update(profile: id, version: p.version, audiences: members, atMs: now, force: true)
                    if !transitions.isEmpty {
                        state.recordHistory(transitions)
                        notePublished(account, id, members)
                        out.append(record(account: account, profile: id, version: p.version, current: members, transitions: transitions))
                    }
                }
                all[account] = state
            }
            return out
        }
    }
}
