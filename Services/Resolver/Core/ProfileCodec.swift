import QL
import Runtime

/// A compact binary form of a profile, for keeping it in memory: varints, times as differences
/// from the profile's creation. Tables are written in their iteration order (sorted tables and
/// streams in name order, but map values in hash order: not canonical, so compare decoded
/// profiles, not bytes). Only this process writes and reads it (snapshots stay JSON), so there is
/// no version negotiation; a damaged buffer decodes to defaults, never traps.
enum ProfileCodec {
    static func encode(_ p: Profile) -> [UInt8] {
        var scratch: [UInt8] = []
        return encode(p, scratch: &scratch)
    }

    /// The profile's bytes, in an array of exactly their size. They are written first into
    /// `scratch` (kept by the caller and reused: it grows to the largest profile and stays), then
    /// copied out at their size (an array grown while writing keeps up to half of its capacity
    /// unused; held by millions of profiles, that slack was about a tenth of the resident memory).
    static func encode(_ p: Profile, scratch: inout [UInt8]) -> [UInt8] {
        while true {
            let (size, complete) = scratch.withUnsafeMutableBufferPointer { buffer in
                var w = Writer(sink: BufferSink(buffer: buffer))
                write(p, to: &w)
                return (w.sink.at, w.sink.at <= buffer.count)
            }
            if complete {
                return [UInt8](unsafeUninitializedCapacity: size) { out, count in
                    count = scratch.withUnsafeBufferPointer { out.initialize(fromContentsOf: $0[0..<size]) }
                }
            }
            scratch = [UInt8](repeating: 0, count: max(size, 2 * scratch.count, 1024)) // written again, in a larger buffer
        }
    }

    /// Where the encoding goes.
    protocol Sink {
        mutating func byte(_ b: UInt8)
        mutating func bytes(_ b: UnsafeBufferPointer<UInt8>)
    }

    /// Writes into a fixed buffer; past its end it only counts (`at` is then the size needed).
    struct BufferSink: Sink {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var at = 0
        mutating func byte(_ b: UInt8) {
            if at < buffer.count { buffer[at] = b }
            at += 1
        }
        mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
            if let source = b.baseAddress, !b.isEmpty, at + b.count <= buffer.count {
                (buffer.baseAddress! + at).initialize(from: source, count: b.count)
            }
            at += b.count
        }
    }

    static func write<S: Sink>(_ p: Profile, to w: inout Writer<S>) {
        let base = p.createdMs
        w.int(p.createdMs)
        w.int(p.updatedMs &- base)
        w.uint(UInt64(max(0, p.eventCount)))
        w.int(p.version)
        // Streams first: a field's stream is written as its position among them.
        w.uint(UInt64(p.streams.count))
        for s in p.streams { w.string(s) }
        // Tables are read where they are (`withEntries`), not iterated: iterating copies each
        // entry, which retains and releases everything it holds.
        w.uint(UInt64(p.identities.count))
        p.identities.withEntries { entries in
            for e in entries.indices {
                w.string(entries[e].name)
                entries[e].value.withUnsafeBufferPointer { held in
                    w.uint(UInt64(held.count))
                    for h in held.indices {
                        w.string(held[h].value)
                        w.int(held[h].lastSeenMs &- base)
                    }
                }
            }
        }
        w.uint(UInt64(p.fields.count))
        p.fields.withEntries { entries in
            for e in entries.indices {
                w.string(entries[e].name)
                w.value(entries[e].value.value, base)
                w.int(entries[e].value.timeMs &- base)
                w.uint(UInt64(entries[e].value.keyTimes.count))
                entries[e].value.keyTimes.withEntries { times in
                    for t in times.indices {
                        w.string(times[t].name)
                        w.int(times[t].value &- base)
                    }
                }
                if let s = entries[e].value.stream {
                    // Nearly always one of the profile's streams (looked for among the first few).
                    if let i = p.streams.prefix(Self.streamsReferred).firstIndex(of: s) {
                        w.sink.byte(2)
                        w.uint(UInt64(i))
                    } else {
                        w.sink.byte(1)
                        w.string(s)
                    }
                } else {
                    w.sink.byte(0)
                }
                if let c = entries[e].value.changedAtMs { w.sink.byte(1); w.int(c &- base) } else { w.sink.byte(0) }
            }
        }
        w.uint(UInt64(p.conflicts.count))
        for c in p.conflicts {
            w.string(c.field)
            w.string(c.value)
        }
        w.uint(UInt64(p.merged.count))
        for m in p.merged { w.string(m) }
    }

    static func decode(id: String, _ bytes: [UInt8]) -> Profile {
        bytes.withUnsafeBufferPointer { decode(id: id, $0) }
    }

    static func decode(id: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Profile {
        var r = Reader(bytes: bytes)
        let base = r.int()
        var p = Profile(id: id, createdMs: base, updatedMs: r.int() &+ base)
        p.eventCount = Int(clamping: r.uint())
        p.version = r.int()
        for _ in 0..<r.count() { p.noteStream(r.string()) }
        let identityCount = r.count()
        p.identities.reserveCapacity(identityCount)
        for _ in 0..<identityCount {
            let field = r.string()
            var held: [Profile.Held] = []
            let n = r.count()
            held.reserveCapacity(n)
            for _ in 0..<n { held.append(Profile.Held(value: r.string(), lastSeenMs: r.int() &+ base)) }
            p.identities.appendInOrder(field, held) // written in the table's order
        }
        let fieldCount = r.count()
        p.fields.reserveCapacity(fieldCount)
        for _ in 0..<fieldCount {
            let name = r.string()
            let value = r.value(base)
            let time = r.int() &+ base
            let n = r.count()
            var keyTimes = KeyTimes()
            if n > 0 {
                keyTimes.reserveCapacity(n + 1) // room for the member or key an event most often adds
                for _ in 0..<n { keyTimes.appendInOrder(r.string(), r.int() &+ base) } // written in order
            }
            var state = FieldState(value: value, timeMs: time, keyTimes: keyTimes)
            state.stream = r.stream(among: p.streams)
            if r.byte() == 1 { state.changedAtMs = r.int() &+ base }
            p.fields.appendInOrder(name, state) // written in the table's order
        }
        for _ in 0..<r.count() { p.conflicts.append(Identifier(r.string(), r.string())) }
        for _ in 0..<r.count() { p.merged.append(r.string()) }
        return p
    }

    /// How many of a profile's streams a field's stream is looked for among when encoding.
    static let streamsReferred = 16

    /// Decodes like `decode(id:_:)` (the same profile), but into the storage of `old`, a decoded
    /// profile no longer needed: its tables, held lists, sets, maps and key times are refilled
    /// where they are (keeping their capacity) rather than allocated anew — a dozen allocations
    /// and as many frees less for a typical web profile.
    static func decode(id: String, _ bytes: UnsafeBufferPointer<UInt8>, reusing old: consuming Profile) -> Profile {
        var old = old
        var r = Reader(bytes: bytes)
        let base = r.int()
        var p = Profile(id: id, createdMs: base, updatedMs: r.int() &+ base)
        p.eventCount = Int(clamping: r.uint())
        p.version = r.int()
        p.takeStorage(from: &old)
        for _ in 0..<r.count() { p.noteStream(r.string()) }
        let streams = p.streams // read by the fields' closure below, while the table is refilled
        let identitiesInOrder = p.identities.refill(count: r.count(), blank: []) { held in
            let field = r.string()
            held.removeAll(keepingCapacity: true)
            let n = r.count()
            held.reserveCapacity(n)
            for _ in 0..<n { held.append(Profile.Held(value: r.string(), lastSeenMs: r.int() &+ base)) }
            return field
        }
        // Tables written in order come back in order; anything else (a damaged buffer) is left
        // to the plain decoder, whose tables sort what they are given.
        guard identitiesInOrder else { return decode(id: id, bytes) }
        let fieldsInOrder = p.fields.refill(count: r.count(), blank: FieldState(value: .null, timeMs: 0)) { state in
            let name = r.string()
            r.value(base, into: &state.value)
            state.timeMs = r.int() &+ base
            let n = r.count()
            state.keyTimes.removeAll(keepingCapacity: true)
            if n > 0 {
                state.keyTimes.reserveCapacity(n + 1) // as in `decode`
                for _ in 0..<n { state.keyTimes.appendInOrder(r.string(), r.int() &+ base) }
            }
            state.stream = r.stream(among: streams)
            state.changedAtMs = r.byte() == 1 ? r.int() &+ base : nil
            return name
        }
        guard fieldsInOrder else { return decode(id: id, bytes) }
        for _ in 0..<r.count() { p.conflicts.append(Identifier(r.string(), r.string())) }
        for _ in 0..<r.count() { p.merged.append(r.string()) }
        return p
    }

    struct Writer<S: Sink> {
        var sink: S

        mutating func uint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                sink.byte(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            sink.byte(UInt8(v))
        }

        /// Zigzag, so small negative differences stay short.
        mutating func int(_ v: Int64) { uint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

        mutating func string(_ s: String) {
            s.withUTF8Bytes { bytes in
                uint(UInt64(bytes.count))
                sink.bytes(bytes)
            }
        }

        mutating func value(_ v: QLValue, _ base: Int64) {
            switch v {
            case .null: sink.byte(0)
            case .int(let i): sink.byte(1); int(i)
            case .number(let d):
                sink.byte(2)
                var bits = d.bitPattern
                for _ in 0..<8 {
                    sink.byte(UInt8(truncatingIfNeeded: bits))
                    bits >>= 8
                }
            case .bool(let b): sink.byte(b ? 4 : 3)
            case .string(let s): sink.byte(5); string(s)
            case .time(let t): sink.byte(6); int(t &- base)
            case .strings(let items):
                sink.byte(7)
                uint(UInt64(items.count))
                for s in items { string(s) }
            case .list(let items):
                sink.byte(8)
                uint(UInt64(items.count))
                for item in items { value(item, base) }
            case .map(let m):
                sink.byte(9)
                uint(UInt64(m.count))
                for (k, item) in m {
                    string(k)
                    value(item, base)
                }
            }
        }
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        mutating func byte() -> UInt8 {
            guard at < bytes.count else { return 0 }
            defer { at += 1 }
            return bytes[at]
        }

        mutating func uint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while at < bytes.count, shift < 64 {
                let b = bytes[at]
                at += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
            return v
        }

        mutating func int() -> Int64 {
            let u = uint()
            return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
        }

        /// A count, never more than the bytes left (a damaged buffer cannot ask for a huge loop).
        mutating func count() -> Int { Int(min(uint(), UInt64(bytes.count - min(at, bytes.count)))) }

        mutating func string() -> String {
            let n = count()
            defer { at += n }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[at..<(at + n)]), as: UTF8.self)
        }

        mutating func value(_ base: Int64) -> QLValue { value(tag: byte(), base) }

        /// A field's stream: none, written out, or the position of one of `streams` (nil
        /// past them: only a damaged buffer points there).
        mutating func stream(among streams: [String]) -> String? {
            switch byte() {
            case 1: return string()
            case 2:
                let i = uint()
                return i < UInt64(streams.count) ? streams[Int(i)] : nil
            default: return nil
            }
        }

        /// Reads a value into `v`, refilling the set or map it holds when the value read is one
        /// too (see `decode(id:_:reusing:)`).
        mutating func value(_ base: Int64, into v: inout QLValue) {
            let tag = byte()
            switch tag {
            case 7:
                let n = count()
                var items: [String] = []
                if case .strings(var old) = v {
                    v = .null // `old` is now the only reference: its storage moves to `items`
                    old.removeAll(keepingCapacity: true)
                    swap(&items, &old)
                }
                items.reserveCapacity(n + 1)
                for _ in 0..<n { items.append(string()) }
                v = .strings(items)
            case 9:
                let n = count()
                var m: [String: QLValue] = [:]
                if case .map(var old) = v {
                    v = .null
                    old.removeAll(keepingCapacity: true)
                    swap(&m, &old)
                }
                m.reserveCapacity(n + 1)
                for _ in 0..<n {
                    let k = string()
                    m[k] = value(base)
                }
                v = .map(m)
            default: v = value(tag: tag, base)
            }
        }

        mutating func value(tag: UInt8, _ base: Int64) -> QLValue {
            switch tag {
            case 1: return .int(int())
            case 2:
                var bits: UInt64 = 0
                for i in 0..<8 { bits |= UInt64(byte()) << (8 * UInt64(i)) }
                return .number(Double(bitPattern: bits))
            case 3: return .bool(false)
            case 4: return .bool(true)
            case 5: return .string(string())
            case 6: return .time(int() &+ base)
            case 7:
                let n = count()
                var items: [String] = []
                items.reserveCapacity(n + 1) // decoded to be changed: room for one more member
                for _ in 0..<n { items.append(string()) }
                return .strings(items)
            case 8:
                let n = count()
                var items: [QLValue] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(value(base)) }
                return .list(items)
            case 9:
                let n = count()
                var m = [String: QLValue](minimumCapacity: n + 1) // room for one more key, as above
                for _ in 0..<n {
                    let k = string()
                    m[k] = value(base)
                }
                return .map(m)
            default: return .null
            }
        }
    }
}
