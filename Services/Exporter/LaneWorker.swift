import ExportCore
import Foundation
import Runtime

/// A lane's worker: takes the next batch from the front of the queue, delivers it with retries,
/// then records the new position in `cdp.exports`. One batch at a time keeps deliveries in
/// order per profile; each lane waits only for its own destination.
extension ExporterApp {
    enum BatchResult {
        case delivered
        case dead(String)
        /// The lane stopped or started a new generation while the batch was out.
        case abandoned
    }

    func runLane(_ lane: Lane) async {
        while !lane.stopped.load() {
            let job = lane.job
            if job.paused {
                lane.idle.store(true)
                await lane.wakeup.wait(timeoutMs: 100)
                continue
            }
            let (items, generation, oldest) = lane.queue.withLock { q in (q.peek(max: job.maxUsers), q.position.generation, q.oldestQueuedMs) }
            if items.isEmpty {
                lane.idle.store(true)
                await lane.wakeup.wait(timeoutMs: 100)
                continue
            }
            if job.maxWaitMs > 0, items.count < job.maxUsers, let oldest, clock() - oldest < job.maxWaitMs {
                try? await Task.sleep(for: .milliseconds(min(50, max(1, job.maxWaitMs - (clock() - oldest)))))
                continue
            }
            lane.idle.store(false)
            // Membership records can overtake the profile records they were computed from (two
            // topics): wait briefly for the profile data an enter or update should carry.
            if !profilesArrived(items, account: job.account, partition: lane.key.partition) {
                let since = lane.waitingSinceMs.withLock { w in
                    if w == nil { w = clock() }
                    return w!
                }
                if clock() - since < settings.profileWaitMs {
                    try? await Task.sleep(for: .milliseconds(10))
                    continue
                }
                let missing = items.filter { $0.action != .exit && $0.profileVersion > 0 }.prefix(3).map { item in
                    "\(item.profile)@\(item.profileVersion) have \(partitions.withLock { $0[lane.key.partition]?.profiles[job.account + "/" + item.profile]?.version ?? -1 })"
                }
                logger.warning("sending without the newest profile data (its record is late)", ["job": job.id, "partition": String(lane.key.partition),
                                                                                                "examples": missing.joined(separator: ", ")])
            }
            lane.waitingSinceMs.withLock { $0 = nil }
            let batch = Batch(jobID: job.id, items: items)
            let payload = payload(batch, job: job, partition: lane.key.partition)
            let started = clock()
            let result = await deliver(payload, batch: batch, job: job, lane: lane, generation: generation)
            monitor(account: job.account, job: job.id).batchSeconds.observe(Double(clock() - started) / 1000)
            if case .abandoned = result { continue }
            guard let (position, totals) = lane.queue.withLock({ q -> (LanePosition, (Int64, Int64))? in
                guard q.position.generation == generation else { return nil }
                let position = q.acknowledge(items.count)
                let totals = lane.totals.withLock { t in
                    if case .delivered = result { t.delivered += Int64(items.count) } else { t.dead += 1 }
                    return (t.delivered, t.dead)
                }
                return (position, totals)
            }) else { continue }
            let now = clock()
            var records: [ExportsRecord] = []
            let monitor = monitor(account: job.account, job: job.id)
            switch result {
            case .delivered:
                deliveredCounter.inc(UInt64(items.count))
                if monitor.delivered(events: items.count, batchID: batch.id, partition: lane.key.partition, atMs: now) {
                    alert(job, "cdp export job '\(job.name)' (\(job.id)) recovered: deliveries are succeeding again")
                }
            case .dead(let reason):
                deadCounter.inc()
                let text = payload.count <= ExportsRecord.maxPayloadBytes ? String(decoding: payload, as: UTF8.self) : nil
                records.append(.dead(.init(account: job.account, job: job.id, partition: lane.key.partition, batchID: batch.id,
                                           items: items.count, reason: reason, payload: text, atMs: now)))
                if monitor.deadLettered(reason, events: items.count, batchID: batch.id, partition: lane.key.partition, atMs: now) {
                    alert(job, "cdp export job '\(job.name)' (\(job.id)) is failing: batch \(batch.id) of \(items.count) event(s) dead-lettered (\(reason)). Replay with POST /api/work/\(job.id)/replay")
                }
                logger.error("batch dead-lettered", ["job": job.id, "batch_id": batch.id, "reason": reason])
            case .abandoned:
                continue
            }
            records.append(.lane(.init(account: job.account, job: job.id, partition: lane.key.partition, position: position,
                                       status: records.isEmpty ? "delivered" : "dead_letter", batchID: batch.id,
                                       delivered: totals.0, deadLettered: totals.1, atMs: now)))
            _ = await record(records)
            lane.lastCheckpointMs.withLock { $0 = now }
        }
    }

    /// Whether the exporter holds, for every enter and update, the profile at the version the
    /// transition was computed from (exits need no data: the profile may be gone).
    func profilesArrived(_ items: [DeliveryItem], account: String, partition: Int32) -> Bool {
        partitions.withLock { parts in
            guard let ps = parts[partition] else { return true }
            return items.allSatisfy { item in
                item.action == .exit || item.profileVersion == 0 || (ps.profiles[account + "/" + item.profile]?.version ?? -1) >= item.profileVersion
            }
        }
    }

    /// Delivers one batch, retrying within the job's budget with exponential backoff.
    func deliver(_ payload: [UInt8], batch: Batch, job: ExportJob, lane: Lane, generation: Int64) async -> BatchResult {
        let start = clock()
        var attempt = 0
        let monitor = monitor(account: job.account, job: job.id)
        while true {
            if lane.stopped.load() || lane.queue.withLock({ $0.position.generation }) != generation { return .abandoned }
            switch await self.attempt(payload, batchID: batch.id, job: job) {
            case .delivered:
                return .delivered
            case .terminal(let reason):
                failedCounter.inc()
                return .dead(reason)
            case .retry(let reason, let after):
                failedCounter.inc()
                let delay = settings.retry.delayMs(attempt: attempt, retryAfterMs: after, random: Double.random(in: 0..<1))
                let now = clock()
                if now - start + delay > job.retryBudgetMs {
                    return .dead("retry budget of \(job.retryBudgetMs / 1000) s exhausted after \(attempt + 1) attempt(s); last: \(reason)")
                }
                monitor.failed(reason, retryInMs: delay, batchID: batch.id, partition: lane.key.partition, atMs: now)
                // Sleep in slices so a stop or restart is noticed.
                var left = delay
                while left > 0, !lane.stopped.load() {
                    let slice = min(left, 100)
                    try? await Task.sleep(for: .milliseconds(slice))
                    left -= slice
                }
                attempt += 1
            }
        }
    }
}
