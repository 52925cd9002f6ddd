@testable import QL
import Testing

/// One case at least for every builtin not covered elsewhere, and a check that no builtin is
/// left without a case.
@Suite struct BuiltinCoverageTests {
    static let cases: [(String, QLValue?)] = [
        ("eq(1, \"1\")", .bool(true)), ("ne(1, 2)", .bool(true)), ("gt(2, 1)", .bool(true)), ("ge(2, 2)", .bool(true)),
        ("lt(1, 2)", .bool(true)), ("le(3, 2)", .bool(false)), ("not(\"false\")", .bool(true)), ("exists(missing)", .bool(false)),
        ("any(missing, \"\", 1)", .bool(true)), ("all(1, \"a\", false)", .bool(false)), ("sqrt(16)", .number(4)), ("pow(2, 10)", .number(1024)),
        ("count(1)", .int(1)), ("min(3, [1, 2])", .number(1)), ("max(3, \"7\")", .number(7)), ("tobool(0)", .bool(false)),
        ("contains(\"hello\", \"ell\")", .bool(true)), ("hassuffix(\"hello\", \"lo\")", .bool(true)), ("tolower(\"AB\")", .string("ab")),
        ("string.lowercase(\"AB\")", .string("ab")), ("string.titlecase(\"ada lovelace\")", .string("Ada Lovelace")),
        ("string.split(\"a b\", \" \")", .strings(["a", "b"])), ("strip(\" a \")", .string("a")), ("string.strip(\"\\tb\\n\")", .string("b")),
        ("char_length(\"héllo\")", .int(6)), ("array.slice([\"a\", \"b\", \"c\"], 1)", .strings(["b", "c"])),
        ("mapvalues(map(\"k\", \"v\"))", .strings(["v"])), ("mapinvert(map(\"k\", \"v\"))", .map(["v": .string("k")])),
        ("monthofyear(todate(\"2026-03-01\"))", .int(3)), ("yy(todate(\"2026-03-01\"))", .int(26)),
        ("hourofweek(todate(\"2026-11-30T02:00:00Z\"))", .int(26)), ("emailname(\"Ada L <a@b.co>\")", .string("Ada L")),
        ("qsl(\"https://x.com/?A=B\", \"a\")", .string("b")), ("urldecode(\"a%20b+c\")", .string("a b c")),
        ("encoding.b64decode(\"aGk=\")", .string("hi")), ("hash.sha512(\"abc\")", .string("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")),
        ("hash.sip(\"a\")", .int(Int64(bitPattern: SipHash.hash24(Array("a".utf8), k0: 0, k1: 1)))), ("strftime(0, \"%Y\")", nil),
        ("domains(\"https://a.b.example.co.uk/x\")", .strings(["example.co.uk"])),
        ("useragent.map(\"curl/8.0\")", .map(["bot": .string("true"), "mobile": .string("false"), "mozilla": .string(""), "platform": .string(""),
                                               "os": .string(""), "engine": .string(""), "engine_version": .string(""), "browser": .string(""), "browser_version": .string("")])),
        ("ifcase.when(1, true)", nil), ("len(uuid())", .int(36)), ("epochms(todate(\"1970-01-01T00:00:01Z\"))", .int(1000)),
    ]

    @Test(arguments: cases)
    func values(text: String, expected: QLValue?) throws {
        guard case .expression(let e) = try QLParser.parse(text) else {
            Issue.record("not an expression: \(text)")
            return
        }
        #expect(QLEvaluator.evaluate(e, QLContext(fields: [:], nowMs: 0)) == expected, "\(text)")
    }

    /// Compiled programs give what the interpreter gives for calls on literals — those they work
    /// out once at compile time (`Builtins.argumentsOnly`) and the others — and the same again
    /// for every record.
    @Test func compiledCallsOnLiterals_equalTheInterpreter() throws {
        let extra: [String] = ["set(\"web\")", "set(\"a\", \"b\", \"a\")", "set(\"\")", "map(\"web\", 3)", "map(\"\", 3)", "valuect(\"x\")",
                               "valuect([\"a\", \"b\", \"a\"])", "tostring(12)", "tolower(\"MiXeD\")", "string.uppercase(\"ab\")",
                               "email(\"Ada <ADA@Example.COM>\")", "email(\"not an email\")", "set(now())", "map(\"web\", now())"]
        for text in Self.cases.map(\.0) + extra where !text.contains("uuid") {
            let statement = try QLParser.parse("SELECT \(text) AS x FROM s INTO user BY x")
            guard case .select(let select) = statement, case .expression(let e) = try QLParser.parse(text) else {
                Issue.record("not a select: \(text)")
                continue
            }
            let program = try QLSelectProgram(select)
            for (now, record) in [(Int64(0), [String: QLValue]()), (1_795_000_000_000, ["x": .string("y")])] {
                let interpreted = QLEvaluator.evaluate(e, QLContext(fields: record, messageTimeMs: now, nowMs: now))
                let compiled = program.row(record, nowMs: now, messageTimeMs: now)?["x"]
                #expect(compiled == interpreted, "\(text) at \(now)")
            }
        }
        #expect(Builtins.argumentsOnly.isSubset(of: Set(Builtins.table.keys)))
    }

    /// Every registered builtin appears in some test table of this target.
    @Test func everyBuiltinHasACase() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let sources = try FileManager.default.contentsOfDirectory(atPath: here.path).filter { $0.hasSuffix(".swift") }
            .map { try String(contentsOf: here.appendingPathComponent($0), encoding: .utf8) }.joined()
        let missing = Builtins.table.keys.filter { !sources.contains($0 + "(") }.sorted()
        #expect(missing.isEmpty, "builtins without a test case: \(missing)")
    }
}

import Foundation
