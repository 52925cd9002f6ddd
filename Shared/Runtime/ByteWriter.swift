/// Writes bytes through a pointer into room made at the end of an array (`append(to:)`). Past
/// the end of that room it only counts, so `append` can make the room as large as needed and
/// write again. Hot serialisers (profile records, thousands a second) write through it: appending
/// to an array byte by byte checks its uniqueness and capacity on every byte. (Measured: writing
/// into a temporary buffer and appending that copy took the gain away.)
public struct ByteWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written, or that would have been (more than the room: `append` writes again).
    public private(set) var count = 0

    private init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Appends what `body` writes to `out`. `estimate` is the room made first; when the writing
    /// needs more, it is done again in room of the size it needed (so `body` must write the same
    /// bytes each time it is called).
    public static func append(to out: inout [UInt8], estimate: Int = 256, _ body: (inout ByteWriter) -> Void) {
        let start = out.count
        var room = max(estimate, 16)
        while true {
            makeRoom(room, in: &out)
            let written = out.withUnsafeMutableBufferPointer { buffer in
                var w = ByteWriter(base: buffer.baseAddress! + start, capacity: room)
                body(&w)
                return w.count
            }
            if written <= room {
                out.removeLast(room - written)
                return
            }
            out.removeLast(room)
            room = written
        }
    }

    /// Appends `n` zero bytes. Optimised, a repeated element is one memset (measured faster than
    /// copying from a block of zeros); unoptimised (the test suite's builds) it goes element by
    /// element, slowly enough to double the suite's resolver tests, so there it copies a block.
    @inline(__always)
    private static func makeRoom(_ n: Int, in out: inout [UInt8]) {
        #if DEBUG
        var left = n
        while left > 0 {
            let chunk = min(left, zeros.count)
            out.append(contentsOf: zeros[0..<chunk])
            left -= chunk
        }
        #else
        out.append(contentsOf: repeatElement(0, count: n))
        #endif
    }

    #if DEBUG
    private static let zeros = [UInt8](repeating: 0, count: 4096)
    #endif

    /// The bytes `body` writes, as an array of exactly their size.
    public static func bytes(estimate: Int = 256, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out, estimate: estimate, body)
        return out
    }

    @inline(__always)
    public mutating func byte(_ b: UInt8) {
        if count < capacity { base[count] = b }
        count += 1
    }

    public mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
        if let source = b.baseAddress, !b.isEmpty, count + b.count <= capacity {
            (base + count).update(from: source, count: b.count)
        }
        count += b.count
    }

    public mutating func bytes(_ s: StaticString) {
        bytes(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func bytes(_ a: [UInt8]) {
        a.withUnsafeBufferPointer { bytes($0) }
    }

    /// `s`'s UTF-8 bytes, as they are.
    public mutating func utf8(_ s: String) {
        s.withUTF8Bytes { bytes($0) }
    }

    /// The decimal digits of `v`.
    public mutating func int(_ v: Int64) {
        if v >= 0 && v < 10 {
            byte(UInt8(ascii: "0") + UInt8(v))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            bytes(UnsafeBufferPointer(rebasing: buffer[Self.decimal(v, into: buffer)...]))
        }
    }

    /// Writes `v`'s decimal digits (with a `-` when negative) at the end of `buffer` (at least 20
    /// bytes); returns where they start.
    static func decimal(_ v: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var magnitude = v.magnitude
        var at = buffer.count
        repeat {
            at -= 1
            buffer[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if v < 0 {
            at -= 1
            buffer[at] = UInt8(ascii: "-")
        }
        return at
    }

    /// Whether a string's bytes need an escape inside a JSON string literal (see `quoted`).
    static func needsEscape(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i + 8 <= text.count, !mayNeedEscape(UnsafeRawPointer(text.baseAddress! + i).loadUnaligned(as: UInt64.self)) { i += 8 }
        return text[i...].contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }
    }

    /// Whether any of eight bytes may need an escape (a control character, `"`, `\`, or 0xE2,
    /// the lead byte of U+2028/U+2029): exact when false, so runs of plain text are skipped a
    /// word at a time. (SWAR: a byte below 0x20, or equal to one of the three after an XOR.)
    @inline(__always)
    static func mayNeedEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZero(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let below = (w &- ones &* 0x20) & ~w & highs
        return below | hasZero(w ^ (ones &* 0x22)) | hasZero(w ^ (ones &* 0x5C)) | hasZero(w ^ (ones &* 0xE2)) != 0
    }

    /// `s` as a JSON string literal (the bytes `JSONText.appendQuoted` appends).
    public mutating func quoted(_ s: String) {
        byte(0x22)
        s.withUTF8Bytes { text in
            // Most strings need no escape at all: one scan, one copy.
            var runStart = 0
            var i = 0
            while i < text.count {
                // Eight bytes at a time past the ones that need nothing.
                while i + 8 <= text.count, !Self.mayNeedEscape(UnsafeRawPointer(text.baseAddress! + i).loadUnaligned(as: UInt64.self)) { i += 8 }
                if i == text.count { break }
                let b = text[i]
                guard b < 0x20 || b == 0x22 || b == 0x5C || b == 0xE2 else {
                    i += 1
                    continue
                }
                var skip = 1
                let escape: StaticString?
                switch b {
                case 0x22: escape = "\\\""
                case 0x5C: escape = "\\\\"
                case 0x0A: escape = "\\n"
                case 0x0D: escape = "\\r"
                case 0x09: escape = "\\t"
                case 0xE2 where i + 2 < text.count && text[i + 1] == 0x80 && (text[i + 2] == 0xA8 || text[i + 2] == 0xA9):
                    // U+2028 / U+2029: valid JSON but they break JavaScript consumers.
                    escape = text[i + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                    skip = 3
                case 0xE2: escape = nil
                default: escape = nil // another control character: \u00XX, below
                }
                if b == 0xE2 && escape == nil {
                    i += 1
                    continue
                }
                bytes(UnsafeBufferPointer(rebasing: text[runStart..<i]))
                if let escape {
                    bytes(escape)
                } else {
                    let hex: StaticString = "0123456789abcdef"
                    bytes("\\u00")
                    byte(hex.utf8Start[Int(b >> 4)])
                    byte(hex.utf8Start[Int(b & 0xF)])
                }
                i += skip
                runStart = i
            }
            bytes(UnsafeBufferPointer(rebasing: text[runStart..<text.count]))
        }
        byte(0x22)
    }

    /// A double as JSON writes it (`JSONValue.appendDouble`).
    public mutating func double(_ d: Double) {
        utf8(JSONValue.format(d))
    }

    /// `"2026-11-29T10:00:00.000Z"`, quotes included.
    public mutating func quotedTime(epochMs: Int64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 26) { buffer in
            buffer[0] = 0x22
            let n = Timestamp.writeRFC3339Millis(epochMs: epochMs, into: UnsafeMutableBufferPointer(rebasing: buffer[1...]))
            buffer[n + 1] = 0x22
            bytes(UnsafeBufferPointer(rebasing: buffer[0..<(n + 2)]))
        }
    }
}
