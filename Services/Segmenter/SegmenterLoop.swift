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
        let consumer = try client.makeConsumer(ConsumerOptions(groupID: settings.groupID, clientID: "cdp-segmenter-\(settings.instanceID)",
                                                               sessionTimeoutMs: settings.sessionTimeoutMs))
        try consumer.subscribe([settings.topics.profiles], hooks: RebalanceHooks(
            onAssign: { [self] tps in
                progress.withLock { p in
                    p.everAssigned = true
                    p.assigned.formUnion(tps)
                    for tp in tps { p.position[tp] = 0; p.committed[tp] = nil }
                }
            },
            onRevoke: { [self] tps in
                progress.withLock { p in p.assigned.subtract(tps) }
                let revoked = Set(tps.map(\.partition))
                accounts.withLock { all in all = all.filter { !revoked.contains($0.value.partition) } }
            },
            startOffsets: { tps in Dictionary(uniqueKeysWithValues: tps.map { ($0, Offset.beginning) }) }))
        while !Task.isCancelled {
            if !view.isCaughtUp {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            let records: [ConsumerRecord]
            do {
                records = try await consumer.poll(max: 2000, timeoutMs: 100)
            } catch LogError.closed {
                break
            } catch {
                logger.warning("poll failed", ["error": "\(error)"])
                continue
            }
            let unknown = progress.withLock { p in p.assigned.filter { p.committed[$0] == nil } }
            if !unknown.isEmpty {
                let committed = (try? await consumer.committed(Array(unknown))) ?? [:]
                progress.withLock { p in for tp in unknown { p.committed[tp] = committed[tp] ?? 0 } }
            }
            var out: [ProducerRecord] = []
            var commits: [TopicPartition: Int64] = [:]
            let committed = progress.withLock { $0.committed }
            let now = clock()
            for r in records {
                let tp = r.topicPartition
                let live = r.offset >= (committed[tp] ?? .max)
                progress.withLock { $0.position[tp] = r.offset + 1 }
                if live { commits[tp] = r.offset + 1 }
                guard let value = r.value, let profile = ProfileRecord.parse(value) else { continue }
                out += apply(profile, partition: r.partition, now: now, publish: live)
            }
            // Time-window flips and audience changes are acted on once caught up.
            if progress.withLock({ $0.caughtUp }) { out += refresh(now: now) }
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
        await consumer.close()
    }

    /// Applies one profile record; returns the membership record to publish (if any).
    func apply(_ profile: ProfileRecord, partition: Int32, now: Int64, publish: Bool) -> [ProducerRecord] {
        accounts.withLock { all in
            var state = all[profile.account] ?? AccountSegments()
            state.partition = partition
            defer { all[profile.account] = state }
            if let seen = state.profiles[profile.id], seen.version > profile.version { return [] }
            let transitions: [Transition]
            if profile.deleted {
                state.profiles[profile.id] = nil
                state.flips.schedule(profile.id, at: nil)
                transitions = state.memberships.remove(profile: profile.id, version: profile.version, atMs: now)
            } else {
                state.profiles[profile.id] = (profile.version, profile.fields)
                guard let audiences = audiences(for: profile.account, &state) else { return [] }
                let (members, flip) = audiences.evaluate(profile.fields, nowMs: now)
                state.flips.schedule(profile.id, at: flip)
                transitions = state.memberships.update(profile: profile.id, version: profile.version, audiences: members, atMs: now)
            }
            guard publish, !transitions.isEmpty else { return [] }
            return [record(account: profile.account, profile: profile.id, version: profile.version,
                           current: state.memberships.current[profile.id] ?? [], transitions: transitions)]
        }
    }

    /// Re-evaluates profiles whose flip time has come, and every profile of an account whose
    /// audiences changed (backfill).
    func refresh(now: Int64) -> [ProducerRecord] {
        accounts.withLock { all in
            var out: [ProducerRecord] = []
            for account in all.keys.sorted() {
                var state = all[account]!
                let before = state.fingerprint
                guard let audiences = audiences(for: account, &state) else { continue }
                let ids = before != state.fingerprint ? Array(state.profiles.keys).sorted() : state.flips.due(now)
                if before != state.fingerprint, !ids.isEmpty {
                    logger.info("audiences changed; re-evaluating the account", ["account": account, "profiles": String(ids.count)])
                }
                for id in ids {
                    guard let p = state.profiles[id] else { continue }
                    let (members, flip) = audiences.evaluate(p.fields, nowMs: now)
                    state.flips.schedule(id, at: flip)
                    let transitions = state.memberships.update(profile: id, version: p.version, audiences: members, atMs: now, force: true)
                    if !transitions.isEmpty {
                        out.append(record(account: account, profile: id, version: p.version, current: members, transitions: transitions))
                    }
                }
                all[account] = state
            }
            return out
        }
    }
}
