import Runtime
import Testing

struct ByteWriterTests {
    /// Writes a bit of everything: short and escaped strings, numbers, times, raw bytes.
    static func sample(_ w: inout ByteWriter) {
        w.byte(0x5B)
        w.quoted("plain")
        w.byte(0x2C)
        w.quoted("line\nbreak \"q\" \\ \u{1} \u{2028} é \u{e2}\u{80}")
        w.byte(0x2C)
        w.int(Int64.min)
        w.byte(0x2C)
        w.double(2.5)
        w.byte(0x2C)
        w.quotedTime(epochMs: 1_795_946_400_123)
        w.byte(0x2C)
        w.bytes("null")
        w.byte(0x2C)
        w.utf8("0")
        w.byte(0x5D)
    }

    static let expected = #"["plain","line\nbreak \"q\" \\ \u0001 \u2028 é \#u{e2}\#u{80}",-9223372036854775808,2.5,"2026-11-29T10:00:00.123Z",null,0]"#

    /// Whatever room is made first (too little is written again in more), the bytes are the same,
    /// and what the array held before stays as it was.
    @Test(arguments: [0, 1, 5, 16, 40, 87, 88, 89, 200, 4096])
    func anyEstimate_givesTheSameBytes_afterWhatWasThere(estimate: Int) throws {
        var out: [UInt8] = Array("prefix:".utf8)
        ByteWriter.append(to: &out, estimate: estimate, Self.sample)
        #expect(String(decoding: out, as: UTF8.self) == "prefix:" + Self.expected)
        #expect(try JSONParser().parse(Array(out.dropFirst(7))).arrayValue?[1] == .string("line\nbreak \"q\" \\ \u{1} \u{2028} é \u{e2}\u{80}"))
        #expect(ByteWriter.bytes(estimate: estimate, Self.sample) == Array(Self.expected.utf8))
    }

    @Test func nothingWritten_appendsNothing() {
        var out: [UInt8] = [1, 2]
        ByteWriter.append(to: &out) { _ in }
        #expect(out == [1, 2])
        #expect(ByteWriter.bytes { _ in }.isEmpty)
    }
}
