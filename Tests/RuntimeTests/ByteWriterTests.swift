import Foundation
@testable import Runtime
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

    /// Every byte value at every position of a word: the word scan flags exactly the bytes that
    /// may need an escape (a control character, `"`, `\`, 0xE2).
    @Test func wordScan_flagsExactlyTheSpecialBytes() {
        for b in 0...255 {
            let special = b < 0x20 || b == 0x22 || b == 0x5C || b == 0xE2
            for position in 0..<8 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = UInt8(b)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(ByteWriter.mayNeedEscape(word) == special, "byte \(b) at \(position)")
                // Next to other plain bytes of every kind (high ones included).
                bytes = (0..<8).map { UInt8(0x7F + $0 * 16) }
                bytes[position] = UInt8(b)
                #expect(ByteWriter.mayNeedEscape(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) == special, "byte \(b) at \(position), high neighbours")
            }
        }
    }

    /// Each escape at each position of strings of 0 to 40 bytes (the scan goes a word at a time,
    /// then byte by byte): the same text as the quoter that looks at every character.
    @Test func escapesAtEveryPosition_matchTheCharacterByCharacterQuoter() throws {
        let specials = ["\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1F}", "\u{2028}", "\u{2029}", "\u{2027}", "é", "\u{7F}"]
        for length in 0...40 {
            for special in specials {
                for position in 0...length {
                    let plain = String(repeating: "x", count: length)
                    let text = String(plain.prefix(position)) + special + String(plain.dropFirst(position))
                    let written = ByteWriter.bytes { $0.quoted(text) }
                    #expect(written == Array(JSONText.quote(text).utf8), "\(length) \(position)") // the scalar-by-scalar quoter
                    #expect(try JSONParser().parse(written) == .string(text))
                    var appended: [UInt8] = []
                    JSONText.appendQuoted(text, to: &appended)
                    #expect(appended == written)
                }
            }
        }
    }

    /// Strings are read where they are, whatever their form (small, native, bridged from
    /// Foundation, a substring's copy): the same bytes as their UTF-8 view, in every writer.
    @Test(arguments: ["", "a", "p_b7963dd1f855c", "last_channel_activities", "héllo wörld \u{1F600} with more than fifteen bytes",
                      String(repeating: "x", count: 300)])
    func borrowedBytes_areTheUTF8View(text: String) throws {
        let forms: [String] = [text, NSString(string: text).description, String(Substring(text)),
                               String(decoding: Array(text.utf8), as: UTF8.self)]
        for s in forms {
            #expect(s.withUTF8Bytes { Array($0) } == Array(s.utf8))
            #expect(ByteWriter.bytes { $0.utf8(s) } == Array(s.utf8))
            var out: [UInt8] = []
            JSONText.appendQuoted(s, to: &out)
            #expect(try JSONParser().parse(out) == .string(s))
        }
    }
}
