import Foundation
@testable import Runtime
import Testing

struct CPUBudgetTests {
    @Test(arguments: [("max 100000", nil), ("150000 100000", 1.5), ("200000 100000\n", 2.0), ("50000 100000", 0.5),
                      ("0 100000", nil), ("-1 100000", nil), ("garbage", nil), ("", nil), ("100000 0", nil)] as [(String, Double?)])
    func v2(text: String, expected: Double?) {
        #expect(CPUBudget.v2Quota(text) == expected)
    }

    @Test(arguments: [("-1", "100000", nil), ("100000", "100000", 1.0), ("250000\n", "100000\n", 2.5), ("x", "100000", nil),
                      ("100000", "0", nil)] as [(String, String, Double?)])
    func v1(quota: String, period: String, expected: Double?) {
        #expect(CPUBudget.v1Quota(quota: quota, period: period) == expected)
    }

    @Test func ancestorsEndAtTheMountRoot() {
        #expect(CPUBudget.ancestors("/a/b") == ["/a/b", "/a", ""])
        #expect(CPUBudget.ancestors("/") == [""])
    }

    /// A directory standing for `/`: /proc/self/cgroup and the cgroup files under /sys.
    func tree(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cpubudget-\(UInt32.random(in: 0...UInt32.max))").path
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func cgroupV2_theTightestQuotaOnThePathCounts() throws {
        let root = try tree(["proc/self/cgroup": "0::/kubepods/pod1/c1\n",
                             "sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "max 100000\n",
                             "sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
                             "sys/fs/cgroup/kubepods/cpu.max": "400000 100000\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CPUBudget.available(root: root, processors: 64) == 2)
        #expect(CPUBudget.available(root: root, processors: 1) == 1)
    }

    @Test func cgroupV1_cpuControllerQuota() throws {
        let root = try tree(["proc/self/cgroup": "12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n",
                             "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
                             "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CPUBudget.available(root: root, processors: 16) == 3)
    }

    @Test func noQuota_orNoCgroupFiles_meansEveryProcessor() throws {
        let unlimited = try tree(["proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "max 100000\n"])
        let bare = try tree([:])
        defer {
            try? FileManager.default.removeItem(atPath: unlimited)
            try? FileManager.default.removeItem(atPath: bare)
        }
        #expect(CPUBudget.available(root: unlimited, processors: 8) == 8)
        #expect(CPUBudget.available(root: bare, processors: 8) == 8)
        #expect(CPUBudget.available(root: bare, processors: 0) == 1)
        // This machine: at least one, never more than its processors.
        #expect((1...ProcessInfo.processInfo.activeProcessorCount).contains(CPUBudget.available()))
    }
}
