/// Event-id fingerprints with their event times (the dedupe window): an open-addressing table
/// with linear probing, grown by half when 85% full, so it holds 1.2–1.8 slots of 16 bytes per
/// entry (a Dictionary, doubling at 75%, holds 1.3–2.7). Fingerprints are already well mixed
/// (`IdentityGraph.fingerprint`), so they index the table directly.
struct SeenEvents: Sendable {
    /// 0 marks an empty slot (a fingerprint of 0 is stored as 1).
    private var keys: [UInt64]
    private var times: [Int64]
    private(set) var count = 0

    init(minimumCapacity: Int = 1024) {
        let capacity = max(16, minimumCapacity)
        keys = [UInt64](repeating: 0, count: capacity)
        times = [Int64](repeating: 0, count: capacity)
    }

    init(_ entries: [UInt64: Int64]) {
        self.init(minimumCapacity: entries.count * 3 / 2)
        for (fp, t) in entries { self[fp] = t }
    }

    private static func stored(_ fp: UInt64) -> UInt64 { fp == 0 ? 1 : fp }

    private func slot(_ key: UInt64) -> Int {
        var i = Int(key.multipliedFullWidth(by: UInt64(keys.count)).high)
        while keys[i] != 0 && keys[i] != key {
            i += 1
            if i == keys.count { i = 0 }
        }
        return i
    }

    subscript(fp: UInt64) -> Int64? {
        get {
            let i = slot(Self.stored(fp))
            return keys[i] == 0 ? nil : times[i]
        }
        set {
            guard let t = newValue else { return } // entries leave only through `keeping(from:)`
            let key = Self.stored(fp)
            var i = slot(key)
            if keys[i] == 0 {
                if (count + 1) * 20 > keys.count * 17 {
                    grow()
                    i = slot(key)
                }
                keys[i] = key
                count += 1
            }
            times[i] = t
        }
    }

    private mutating func grow() {
        var bigger = SeenEvents(minimumCapacity: keys.count * 3 / 2)
        for i in keys.indices where keys[i] != 0 { bigger[keys[i]] = times[i] }
        self = bigger
    }

    /// The entries at or after `cutoff`, in a table sized for them.
    func keeping(from cutoff: Int64) -> SeenEvents {
        var kept = 0
        for i in keys.indices where keys[i] != 0 && times[i] >= cutoff { kept += 1 }
        var out = SeenEvents(minimumCapacity: kept * 3 / 2)
        for i in keys.indices where keys[i] != 0 && times[i] >= cutoff { out[keys[i]] = times[i] }
        return out
    }

    /// Every entry (snapshots; a fingerprint of 0 reads back as 1, which is the same entry).
    var entries: [UInt64: Int64] {
        var out: [UInt64: Int64] = [:]
        out.reserveCapacity(count)
        for i in keys.indices where keys[i] != 0 { out[keys[i]] = times[i] }
        return out
    }
}
