import Foundation

/// How many CPUs this process may keep busy: the processor count, lowered by a CPU quota of
/// its control group (a container's CPU limit: Docker `--cpus`, a Kubernetes `limits.cpu`), which
/// Foundation's `activeProcessorCount` does not see. Thread-count defaults use it, so a replica
/// limited to 2 CPUs on a 64-CPU node does not start 64 busy threads.
public enum CPUBudget {
    /// The processor count, or the quota rounded up when lower (at least 1).
    public static func available() -> Int {
        available(root: "/", processors: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// `root` is where `/proc` and `/sys` are looked for (tests give a directory tree).
    static func available(root: String, processors: Int) -> Int {
        guard let quota = quota(root: root) else { return max(1, processors) }
        return max(1, min(processors, Int(quota.rounded(.up))))
    }

    /// The tightest CPU quota on the way from this process's control group to the root, in CPUs
    /// (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`); nil when there is none.
    static func quota(root: String) -> Double? {
        guard let text = read(root, "proc/self/cgroup") else { return nil }
        var tightest: Double?
        func note(_ q: Double?) {
            if let q, q > 0 { tightest = min(tightest ?? q, q) }
        }
        for line in text.split(separator: "\n") {
            // "hierarchy-id:controllers:path"; v2 is "0::path".
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",")
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                for mount in ["sys/fs/cgroup", "sys/fs/cgroup/unified"] {
                    for dir in ancestors(path) { note(read(root, "\(mount)\(dir)/cpu.max").flatMap(v2Quota)) }
                }
            } else if controllers.contains("cpu") {
                for mount in ["sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpuacct,cpu"] {
                    for dir in ancestors(path) {
                        guard let q = read(root, "\(mount)\(dir)/cpu.cfs_quota_us"),
                              let p = read(root, "\(mount)\(dir)/cpu.cfs_period_us") else { continue }
                        note(v1Quota(quota: q, period: p))
                    }
                }
            }
        }
        return tightest
    }

    /// `cpu.max`: "max 100000" (no limit) or "150000 100000" (1.5 CPUs).
    static func v2Quota(_ text: String) -> Double? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let q = Double(parts[0]), let p = Double(parts[1]), q > 0, p > 0 else { return nil }
        return q / p
    }

    /// v1: a quota of -1 is no limit.
    static func v1Quota(quota: String, period: String) -> Double? {
        guard let q = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)),
              let p = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), q > 0, p > 0 else { return nil }
        return q / p
    }

    /// "/a/b" → ["/a/b", "/a", ""] (the last is the mount root itself).
    static func ancestors(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var out: [String] = []
        while true {
            out.append(parts.isEmpty ? "" : "/" + parts.joined(separator: "/"))
            if parts.isEmpty { return out }
            parts.removeLast()
        }
    }

    static func read(_ root: String, _ path: String) -> String? {
        let full = (root.hasSuffix("/") ? root : root + "/") + path
        guard let data = FileManager.default.contents(atPath: full), data.count < 65_536 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
