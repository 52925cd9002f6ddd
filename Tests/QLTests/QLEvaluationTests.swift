import QL
import Testing

/// 2026-11-29T12:00:00Z
let now: Int64 = 1_795_953_600_000
let day: Int64 = 86_400_000

let record: [String: QLValue] = [
    "email": .string("Ada@Example.com"),
    "name": .string("Ada Lovelace"),
    "visits": .int(7),
    "score": .number(42.5),
    "zip": .string("97201"),
    "price": .string("$1,200.50"),
    "vip": .bool(true),
    "empty": .string(""),
    "channels": .strings(["email", "sms"]),
    "urls": .strings(["https://a.com/pricing/x", "https://a.com/docs"]),
    "ids": .list([.int(1), .int(2), .int(3)]),
    "purchases": .map(["SKU-1": .int(2), "SKU-2": .int(1)]),
    "events": .map(["signed_up": .time(now - 10 * day), "ordered": .time(now - 40 * day)]),
    "last_visit": .time(now - 12 * 3_600_000),
    "signup": .time(now - 400 * day),
    "a.b": .string("literal key"),
    "utm params": .map(["utm source": .string("newsletter")]),
]

func ctx(_ fields: [String: QLValue] = record, includes: [String: String] = [:]) -> QLContext {
    let parsed = includes.mapValues { try! QLParser.parseFilter($0) }
    return QLContext(fields: fields, messageTimeMs: now - day, nowMs: now, includes: { parsed[$0] })
}

func matches(_ text: String, _ context: QLContext = ctx()) throws -> Bool {
    QLEvaluator.matches(try QLParser.parseFilter(text), context)
}

@Suite struct FilterQLTests {
    static let cases: [(String, Bool)] = [
        // Equality and coercions
        ("FILTER name == \"Ada Lovelace\"", true),
        ("FILTER name == \"ada lovelace\"", false),        // case-sensitive
        ("FILTER zip == 97201", true),                     // numeric string vs number
        ("FILTER price == 1200.5", true),                  // $ and , stripped
        ("FILTER vip == true", true),
        ("FILTER name == true", false),                    // string vs bool: unequal
        ("FILTER empty == NULL", true),
        ("FILTER name != NULL", true),
        ("FILTER missing != NULL", true),
        ("FILTER visits = 7", true),
        ("FILTER visits IS NOT 8", true),
        // Missing-field rules
        ("FILTER missing == 5", false),
        ("FILTER missing != 5", true),
        ("FILTER missing > 5", false),
        ("FILTER NOT (missing > 5)", true),
        ("FILTER missing NOT IN (\"a\")", true),
        ("FILTER missing LIKE \"a*\"", false),
        ("FILTER NOT EXISTS missing", true),
        ("FILTER EXISTS empty", true),
        // Ordering
        ("FILTER visits >= 7", true),
        ("FILTER score > 42", true),
        ("FILTER zip > 90000", true),
        ("FILTER name > \"A\"", false),                    // string ordering is not supported
        ("FILTER NOT (name > \"A\")", false),              // ... and NOT does not rescue a failure
        // Sets, maps, lists
        ("FILTER channels INTERSECTS (\"sms\", \"push\")", true),
        ("FILTER channels IN (\"push\")", false),
        ("FILTER \"sms\" IN channels", true),
        ("FILTER purchases IN (\"SKU-1\")", true),
        ("FILTER \"SKU-2\" IN purchases", true),
        ("FILTER urls CONTAINS \"pricing\"", true),        // substring of any element
        ("FILTER name CONTAINS \"Love\"", true),
        ("FILTER ids CONTAINS 2", true),
        ("FILTER visits IN (1, 7, \"x\")", true),
        ("FILTER score == [\"hello\", 3, 42.5]", true),    // a number against a list
        // LIKE
        ("FILTER name LIKE \"Ada*\"", true),
        ("FILTER name LIKE \"ada*\"", false),
        ("FILTER name LIKE \"A?a%\"", true),
        ("FILTER urls LIKE \"https://a.com/*\"", true),
        ("FILTER urls LIKE \"*/pricing*\"", false),        // * does not cross /
        ("FILTER urls LIKE \"**/pricing/*\"", true),
        ("FILTER name LIKE \"[A-C]da*\"", true),
        // BETWEEN is exclusive
        ("FILTER visits BETWEEN 6 AND 8", true),
        ("FILTER visits BETWEEN 7 AND 8", false),
        ("FILTER visits NOT BETWEEN 1 AND 3", true),
        // Dates and date math
        ("FILTER last_visit > \"now-1d\"", true),
        ("FILTER last_visit > \"now-6h\"", false),
        ("FILTER signup < \"now-1y\"", true),
        ("FILTER signup > \"2020-01-01\"", true),
        ("FILTER last_visit BETWEEN \"now-2d\" AND \"now+1d\"", true),
        ("FILTER events.signed_up > \"now-30d\"", true),
        ("FILTER events.ordered > \"now-30d\"", false),
        // Field addressing
        ("FILTER a.b == \"literal key\"", true),
        ("FILTER `utm params`.`utm source` == \"newsletter\"", true),
        // Functions
        ("FILTER tolower(email) == \"ada@example.com\"", true),
        ("FILTER email(email) == \"ada@example.com\"", true),
        ("FILTER len(channels) == 2", true),
        ("FILTER domain(\"https://books.amazon.co.uk/x\") == \"amazon.co.uk\"", true),
        // Blocks
        ("FILTER AND (visits > 5, EXISTS email)", true),
        ("FILTER AND (visits > 5, missing > 1)", false),
        ("FILTER OR (name > \"x\", visits > 5)", true),   // failing children are ignored
        ("FILTER AND (\n  visits > 5\n  EXISTS email\n  NOT vip == false\n)", true),
        ("FILTER visits > 5 AND vip == true", true),
        ("FILTER visits > 50 OR vip", true),
        ("FILTER *", true),
        ("FILTER match_all", true),
    ]

    @Test(arguments: cases)
    func operatorSemantics(text: String, expected: Bool) throws {
        #expect(try matches(text) == expected, "\(text)")
        // The compiled form agrees with the interpreter.
        let program = try QLProgram(try QLParser.parseFilter(text))
        #expect(program.matches(program.record(record), nowMs: now, messageTimeMs: now - day) == expected, "compiled: \(text)")
    }

    @Test func compiledIncludes_areInlined_andCyclesRefused() throws {
        let filters = ["a": "FILTER visits > 5", "b": "FILTER INCLUDE a", "loop": "FILTER INCLUDE loop2", "loop2": "FILTER INCLUDE loop"]
        let parsed = try filters.mapValues { try QLParser.parseFilter($0) }
        let p = try QLProgram(try QLParser.parseFilter("FILTER AND (INCLUDE b, NOT INCLUDE a2)"), includes: { n in n == "a2" ? parsed["a"].map { f in var g = f; g.body = .compare(.gt, .field(["visits"]), .literal(.int(100))); return g } : parsed[n] })
        #expect(p.matches(p.record(record), nowMs: now))
        #expect(throws: QLProgram.CompileError.includeCycle(["loop", "loop2", "loop"])) { try QLProgram(try QLParser.parseFilter("FILTER INCLUDE loop"), includes: { parsed[$0] }) }
        #expect(throws: QLProgram.CompileError.unresolvedInclude("nope")) { try QLProgram(try QLParser.parseFilter("FILTER INCLUDE nope")) }
    }

    @Test func includes_resolveCaseInsensitively_detectCycles_andNegateFailures() throws {
        let includes = ["active": "FILTER visits > 5", "loop": "FILTER INCLUDE loop", "broken": "FILTER name > \"A\""]
        let c = ctx(includes: includes)
        #expect(try matches("FILTER INCLUDE active", c))
        #expect(try matches("FILTER INCLUDE 'ACTIVE'", c))
        #expect(try !matches("FILTER INCLUDE missing_filter", c))
        #expect(try !matches("FILTER INCLUDE loop", c))
        #expect(try matches("FILTER NOT INCLUDE broken", c))   // the reference's asymmetry
        #expect(try !matches("FILTER INCLUDE broken", c))
    }
}

@Suite struct ExpressionTests {
    static let cases: [(String, QLValue)] = [
        ("(4 + 5) / 2", QLValue.int(4)),
        ("7 % 4", .int(3)),
        ("1.5 * 2", .number(3)),
        ("-visits", .int(-7)),
        ("toint(\"$1,200\")", .int(1200)),
        ("tonumber(\"2.5\")", .number(2.5)),
        ("tobool(\"t\")", .bool(true)),
        ("tostring(12)", .string("12")),
        ("string.uppercase(\"ab\")", .string("AB")),
        ("string.index(\"hello\", \"l\")", .int(2)),
        ("string.substr(\"hello\", 1, 3)", .string("el")),
        ("split(\"a,b\", \",\")", .strings(["a", "b"])),
        ("join(\"a\", \"\", \"b\", \"-\")", .string("a-b")),
        ("replace(\"a-b-c\", \"-\")", .string("abc")),
        ("hasprefix(name, \"Ada\")", .bool(true)),
        ("oneof(empty, missing, \"x\")", .string("x")),
        ("email(\"Ada <ADA@Example.COM>\")", .string("ada@example.com")),
        ("emaildomain(\"a@b.co\")", .string("b.co")),
        ("host(\"https://WWW.Example.com/path?q=1\")", .string("www.example.com")),
        ("qs(\"https://x.com/?UTM=Yes\", \"utm\")", .string("yes")),
        ("qs2(\"https://x.com/?UTM=Yes\", \"UTM\")", .string("Yes")),
        ("path(\"https://x.com/A/b?c\")", .string("/a/b")),
        ("path(\"https://x.com/a/b#frag\")", .string("/a/b")),
        ("path(\"/Über/À?x\")", .string("/über/à")),
        ("path(\"https://x.com\")", .string("/")),
        ("array.index(channels, -1)", .string("sms")),
        ("mapkeys(purchases)", .strings(["SKU-1", "SKU-2"])),
        ("map(\"k\", 1)", .map(["k": .int(1)])),
        ("set(channels, \"email\", \"push\")", .strings(["email", "sms", "push"])),
        ("valuect(split(\"a,b,a\", \",\"))", .map(["a": .int(2), "b": .int(1)])),
        ("hourofday(todate(\"2026-11-29T13:45:00Z\"))", .int(13)),
        ("dayofweek(todate(\"2026-11-29T13:45:00Z\"))", .int(0)),
        ("mm(todate(\"2026-11-29\"))", .int(11)),
        ("yymm(todate(\"2026-11-29\"))", .string("2611")),
        ("totimestamp(\"2026-11-29T00:00:00Z\")", .int(1_795_910_400)),
        ("now()", .time(now - day)),
        ("todate(\"now-1d\")", .time(now - day)),
        ("todate(\"11/29/2026\")", .time(1_795_910_400_000)),
        ("encoding.b64encode(\"hi\")", .string("aGk=")),
        ("sum(1, \"2\", [3])", .number(6)),
        ("avg(2, 4)", .number(3)),
    ]

    @Test(arguments: cases)
    func values(text: String, expected: QLValue) throws {
        guard case .expression(let e) = try QLParser.parse(text) else {
            Issue.record("not an expression")
            return
        }
        #expect(QLEvaluator.evaluate(e, ctx()) == expected, "\(text)")
    }

    @Test(arguments: ["missing + 1", "7 / 0", "toint(\"abc\")", "string.index(\"a\", \"z\")", "sqrt(\"4\")", "sum(0)", "email(\"nope\")"])
    func notOK(text: String) throws {
        guard case .expression(let e) = try QLParser.parse(text) else { return }
        #expect(QLEvaluator.evaluate(e, ctx()) == nil, "\(text)")
    }
}

/// Programs compiled over one shared slot table read one record and decide as alone.
@Suite struct SharedSlotTableTests {
    @Test func programsSharingATable_matchAsCompiledAlone() throws {
        let texts = ["FILTER visits > 5", "FILTER AND (vip == true, score > 40)", "FILTER email LIKE \"*@example.com\"",
                     "FILTER channels CONTAINS \"sms\"", "FILTER *", "FILTER NOT EXISTS nosuch", "FILTER purchases.SKU-1 > 1"]
        var table: [String] = []
        let shared = try texts.map { try QLProgram(QLParser.parseFilter($0), sharing: &table) }
        #expect(Set(table) == ["visits", "vip", "score", "email", "channels", "nosuch", "purchases", "purchases.SKU-1"])
        var other = record
        other["visits"] = .int(2)
        other["vip"] = .bool(false)
        other["email"] = nil
        for fields in [record, other, [:]] {
            let values = table.map { fields[$0] }
            for (text, program) in zip(texts, shared) {
                let alone = try QLProgram(QLParser.parseFilter(text))
                #expect(program.matches(values, nowMs: now) == alone.matches(alone.record(fields), nowMs: now), "\(text)")
            }
        }
    }
}
