/// The profiles of one graph. `.compact` (the default) keeps them encoded (`ProfileCodec`;
/// measured: 40% of the resident memory of the decoded structs, a quarter fewer events/s);
/// `.decoded` keeps the structs. In compact mode, profiles being changed by an event are decoded
/// once into a small working set and written back by `flush()`, which `IdentityGraph.apply`
/// calls at the end of each event.
public struct ProfileStore: Sendable, Equatable {
    public enum Storage: String, Sendable, CaseIterable {
        case compact, decoded
    }

    public let storage: Storage
    private var decoded: [String: Profile] = [:]
    private var encoded: [String: [UInt8]] = [:]
    /// Decoded profiles of the event being applied (compact mode); nil marks one deleted. An
    /// event touches one or two profiles: a short array, searched linearly (a dictionary's
    /// in-place access allocates a coroutine frame on each use).
    private var working: [(id: String, profile: Profile?)] = []
    /// The profile flushed last, still decoded (the daemon reads it right after `apply`).
    private var recent: Profile?
    /// Where profiles are encoded before being stored at their exact size.
    private var scratch: [UInt8] = []

    public init(storage: Storage = .compact) {
        self.storage = storage
    }

    init(_ profiles: [String: Profile], storage: Storage) {
        self.storage = storage
        switch storage {
        case .decoded: decoded = profiles
        case .compact:
            for (id, p) in profiles { store(p, as: id) }
        }
    }

    public var count: Int {
        if storage == .decoded { return decoded.count }
        var n = encoded.count
        for (id, p) in working {
            switch (p != nil, encoded[id] != nil) {
            case (true, false): n += 1
            case (false, true): n -= 1
            default: break
            }
        }
        return n
    }

    public var isEmpty: Bool { count == 0 }

    /// Every profile, decoded (snapshots, offline runs, tests).
    public var values: [Profile] {
        if storage == .decoded { return Array(decoded.values) }
        var ids = Set(encoded.keys)
        for (id, p) in working { if p == nil { ids.remove(id) } else { ids.insert(id) } }
        return ids.compactMap { self[$0] }
    }

    public subscript(id: String) -> Profile? {
        get {
            if storage == .decoded { return decoded[id] }
            if let i = workingIndex(id) { return working[i].profile }
            if let recent, recent.id == id { return recent }
            return encoded[id].map { ProfileCodec.decode(id: id, $0) }
        }
        set {
            if storage == .decoded {
                decoded[id] = newValue
            } else if let i = workingIndex(id) {
                working[i].profile = newValue
            } else {
                working.append((id, newValue))
            }
        }
        _modify {
            if storage == .decoded {
                yield &decoded[id]
            } else {
                yield &working[slot(id)].profile
            }
        }
    }

    /// Changes profile `id` in place, if there is one: what `self[id]!.…` does, without the
    /// subscript's coroutine frame (allocated on the heap on every use).
    @discardableResult
    public mutating func update<R>(_ id: String, _ change: (inout Profile) -> R) -> R? {
        if storage == .decoded {
            guard let i = decoded.index(forKey: id) else { return nil }
            return change(&decoded.values[i]) // one lookup, changed where it is
        }
        let i = slot(id)
        guard working[i].profile != nil else { return nil }
        return change(&working[i].profile!)
    }

    /// Decodes profile `id` into the working set (compact storage) if it is not there yet: a
    /// profile an event is about to compare, merge or change several times is decoded once.
    public mutating func prepare(_ id: String) {
        if storage == .compact { slot(id) }
    }

    /// The position of profile `id` in the working set (compact storage), which it joins —
    /// decoded once — if it is not there yet (with nil when there is no such profile).
    @discardableResult
    private mutating func slot(_ id: String) -> Int {
        if let w = workingIndex(id) { return w }
        if recent?.id == id {
            working.append((id, recent.take())) // moved, not shared: changing it copies nothing
        } else {
            working.append((id, decodeForChange(id)))
        }
        return working.count - 1
    }

    /// The stored profile `id`, decoded into the storage of the recent one (which is no longer
    /// kept then: the profile decoded now becomes the recent one at the next flush). Between
    /// events nothing else holds the recent profile, so its storage is reused, not copied.
    private mutating func decodeForChange(_ id: String) -> Profile? {
        guard let bytes = encoded[id] else { return nil }
        guard let spare = recent.take() else { return ProfileCodec.decode(id: id, bytes) }
        return bytes.withUnsafeBufferPointer { ProfileCodec.decode(id: id, $0, reusing: spare) }
    }

    @discardableResult
    public mutating func removeValue(forKey id: String) -> Profile? {
        let old = self[id]
        self[id] = nil
        return old
    }

    /// Writes the working set back (encoded); `keep` stays decoded for the next read.
    public mutating func flush(keep: String? = nil) {
        guard !working.isEmpty else { return }
        if let r = recent, workingIndex(r.id) != nil { recent = nil }
        // Each profile is moved out of the working set, not copied (a copy retains and
        // releases everything the profile holds).
        for i in working.indices {
            let id = working[i].id
            if let p = working[i].profile.take() {
                store(p, as: id)
                if id == keep { recent = consume p }
            } else {
                encoded[id] = nil
            }
        }
        working.removeAll(keepingCapacity: true)
    }

    /// Keeps `p` encoded under `id`, at its exact size.
    private mutating func store(_ p: Profile, as id: String) {
        encoded[id] = ProfileCodec.encode(p, scratch: &scratch)
    }

    private func workingIndex(_ id: String) -> Int? {
        working.firstIndex { $0.id == id }
    }

    /// Same profiles (compared decoded: the encoding is not canonical), whatever the storage.
    public static func == (a: ProfileStore, b: ProfileStore) -> Bool {
        guard a.count == b.count else { return false }
        for p in a.values where b[p.id] != p { return false }
        return true
    }
}
