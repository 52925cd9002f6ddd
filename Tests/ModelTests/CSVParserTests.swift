import Model
import Testing

@Suite struct CSVParserTests {
    func parseAll(_ text: String, split: Int? = nil) throws -> [CSVParser.Row] {
        var p = CSVParser()
        let bytes = Array(text.utf8)
        var rows: [CSVParser.Row] = []
        if let split {
            rows += try p.feed(bytes[..<min(split, bytes.count)])
            rows += try p.feed(bytes[min(split, bytes.count)...])
        } else {
            rows += try p.feed(bytes)
        }
        return rows + (try p.finish())
    }

    @Test func quotesCommasNewlinesAndCRLF_inEverySplit() throws {
        let text = "email,name,note\r\nada@x.com,\"Lovelace, Ada\",\"said \"\"hi\"\"\nthen left\"\r\nbob@y.com,Bob,\n\n,,\nlast,row,nobreak"
        let expected = [
            CSVParser.Row(line: 1, fields: ["email", "name", "note"]),
            CSVParser.Row(line: 2, fields: ["ada@x.com", "Lovelace, Ada", "said \"hi\"\nthen left"]),
            CSVParser.Row(line: 4, fields: ["bob@y.com", "Bob", ""]),
            CSVParser.Row(line: 6, fields: ["", "", ""]),
            CSVParser.Row(line: 7, fields: ["last", "row", "nobreak"]),
        ]
        for split in 0...text.utf8.count {
            #expect(try parseAll(text, split: split) == expected, "split at \(split)")
        }
    }

    @Test(arguments: [
        ("a,b\"c\n", "CSV line 1: quote inside an unquoted field"),
        ("\"a\"b\n", "CSV line 1: characters after a closing quote"),
        ("x\n\"open", "CSV line 2: unterminated quoted field"),
    ])
    func malformed(text: String, message: String) {
        #expect { try parseAll(text) } throws: { ($0 as? CSVParser.ParseError)?.description == message }
    }

    @Test func rowsAreBounded() {
        var p = CSVParser(maxRowBytes: 10)
        #expect(throws: CSVParser.ParseError(line: 1, message: "row longer than 10 bytes")) { _ = try p.feed(Array("aaaaaaaaaaaaaaa".utf8)) }
    }
}
