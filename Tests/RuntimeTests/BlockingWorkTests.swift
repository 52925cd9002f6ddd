import Dispatch
import Runtime
import Testing

@Suite struct BlockingWorkTests {
    /// 48 calls that each block until all 48 have started: they can finish only if each gets a
    /// thread of its own at once. (On `DispatchQueue.global()` they would not: on Linux that pool
    /// grows past the CPU count by about one thread a second, which is how blocked calls used to
    /// leave Swift tasks waiting for seconds.)
    @Test func blockedCalls_eachGetAThread_andTasksKeepRunning() async {
        let count = 48
        let started = AtomicInt()
        let allStarted = DispatchSemaphore(value: 0)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<count {
                group.addTask {
                    await BlockingWork.run("test.blocking") {
                        if started.add(1) + 1 == count {
                            for _ in 0..<count { allStarted.signal() }
                        }
                        // A failure bound only; on success every call returns within milliseconds.
                        return allStarted.wait(timeout: .now() + .seconds(30)) == .success
                    }
                }
            }
            // Swift tasks still run while the calls block.
            group.addTask { await Task.yield(); return true }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.count == count + 1 && outcomes.allSatisfy { $0 })
    }

    @Test func start_runsTheBody() async {
        let done = AtomicFlag()
        let signal = DispatchSemaphore(value: 0)
        BlockingWork.start("test.start") {
            done.store(true)
            signal.signal()
        }
        let finished = await BlockingWork.run { signal.wait(timeout: .now() + .seconds(30)) == .success }
        #expect(finished && done.load())
    }
}
