import QL
import Testing

@Suite struct QLParserTests {
    @Test func filterClauses_andDescriptionFromComments() throws {
        let f = try QLParser.parseFilter("-- people who came back\nFILTER x > 7 FROM user LIMIT 100 WITH public = false, kind = \"aspect\" ALIAS X_GT_7;")
        #expect(f.alias == "x_gt_7")
        #expect(f.from == "user" && f.limit == 100)
        #expect(f.with == ["public": .bool(false), "kind": .string("aspect")])
        #expect(f.description == "people who came back")
    }

    @Test func lqlSelect_withEveryColumnClause() throws {
        let text = """
        SELECT
            email(email_address)   AS email      SHORTDESC "Email"
          , _uid
          , todate(ts)             AS first_seen KIND date MERGEOP oldest
          , set(url)               AS urls_seen  KIND []string
          , map(event, todate(ts)) AS event_times KIND map[string]time MERGEOP latestmap
          , toint(amount)          AS first_order IF event == "order" KIND int MERGEOP oldest
        FROM web
        INTO user
        BY _uid OR email
        WHERE NOT EXISTS _bot
        ALIAS web_profile
        """
        guard case .select(let s) = try QLParser.parse(text) else {
            Issue.record("not a select")
            return
        }
        #expect(s.columns.map(\.name) == ["email", "_uid", "first_seen", "urls_seen", "event_times", "first_order"])
        #expect(s.columns.map(\.kind) == [nil, nil, "date", "[]string", "map[string]time", "int"])
        #expect(s.columns.map(\.mergeOp) == [nil, nil, "oldest", nil, "latestmap", "oldest"])
        #expect(s.columns[0].shortDescription == "Email")
        #expect(s.columns[5].guardExpr != nil)
        #expect(s.from == "web" && s.into == "user" && s.by == ["_uid", "email"] && s.alias == "web_profile")
        let row = QLEvaluator.select(s, QLContext(fields: ["email_address": .string("A <A@X.COM>"), "_uid": .string("c1"), "ts": .int(1_795_000_000),
                                                          "url": .string("/a"), "event": .string("order"), "amount": .string("12")], nowMs: 0))
        #expect(row?["email"] == .string("a@x.com"))
        #expect(row?["first_order"] == .int(12))
        #expect(row?["urls_seen"] == .strings(["/a"]))
        let bot = QLEvaluator.select(s, QLContext(fields: ["_bot": .bool(true)], nowMs: 0))
        #expect(bot == nil)
    }

    static let errors: [(String, String)] = [
        ("FILTER AND (a > 1,", "line 1, column 19: expected an expression, found the end of the text"),
        ("FILTER x ==", "line 1, column 12: expected an expression, found the end of the text"),
        ("FILTER tolower(a, b)", "line 1, column 8: tolower takes 1 argument, not 2"),
        ("FILTER nosuchfn(a)", "line 1, column 8: unknown function nosuchfn"),
        ("FILTER a IN (1, 2", "line 1, column 18: expected ',' or ')' in the list, found the end of the text"),
        ("FILTER \"open", "line 1, column 8: unterminated quoted text"),
        ("FILTER x BETWEEN 1 OR 2", "line 1, column 20: expected AND, found 'OR'"),
        ("FILTER x > 1 ALIAS", "line 1, column 19: expected a name after ALIAS, found the end of the text"),
        ("FILTER\n  AND (\n    a > 1\n    b ! 2\n  )", "line 4, column 7: expected ',' or ')' in the AND block, found '!'"),
        ("SELECT a KIND banana FROM s", "line 1, column 15: unknown KIND 'banana'; expected one of []string, []time, bool, date, int, map[string]bool, map[string]int, map[string]number, map[string]string, map[string]time, number, string, ts[]string"),
        ("SELECT a + 1 FROM s", "line 1, column 8: a computed column needs AS name"),
        ("FILTER x > 1 garbage", "line 1, column 14: unexpected 'garbage' after the end of the statement"),
    ]

    @Test(arguments: errors)
    func errorsCarryLineColumnAndWhatWasExpected(text: String, message: String) {
        #expect(throws: QLError.self) { try QLParser.parse(text) }
        do {
            _ = try QLParser.parse(text)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func deepNesting_isRefused() {
        let deep = "FILTER " + String(repeating: "NOT ", count: 200) + "x"
        #expect(throws: QLError.self) { try QLParser.parse(deep) }
    }
}

@Suite struct NextFlipTests {
    static let cases: [(String, Int64?)] = [
        // last_visit = now-12h
        ("FILTER last_visit > \"now-1d\"", Optional(now + 12 * 3_600_000)),      // true now, false in 12 h
        ("FILTER last_visit < \"now-1d\"", Optional(now + 12 * 3_600_000 + 1)), // false now, true just after
        ("FILTER last_visit < \"now+1h\"", nil),                                  // never flips
        ("FILTER last_visit == \"now-1d\"", nil),
        ("FILTER AND (visits > 1, last_visit > \"now-2d\", signup < \"now-1y\")", Optional(now + 36 * 3_600_000)),
        ("FILTER last_visit BETWEEN \"now-1d\" AND \"now+1d\"", Optional(now + 12 * 3_600_000)),
        ("FILTER visits > 5", nil),
    ]

    @Test(arguments: cases)
    func flips(text: String, expected: Int64?) throws {
        let f = try QLParser.parseFilter(text)
        #expect(NextFlip.compute(f, ctx()) == expected, "\(text)")
        let plan = NextFlip.Plan(f)
        #expect(plan.compute(ctx()) == expected, "\(text)")
        if expected != nil { #expect(plan.dependsOnTime, "\(text)") }
        // At the flip instant the result really differs.
        if let t = expected {
            var later = ctx()
            later.nowMs = t
            var before = ctx()
            before.nowMs = t - 1
            #expect(QLEvaluator.matches(f, later) != QLEvaluator.matches(f, before))
        }
    }
}

extension NextFlipTests {
    /// Filters without relative dates never flip by time: for them `compute` is nil in any context.
    @Test(arguments: [
        ("FILTER visits > 5", false), ("FILTER *", false), ("FILTER EXISTS email", false),
        ("FILTER AND (url LIKE \"/p*\", NOT visits < 2)", false), ("FILTER last_visit > \"2026-01-01\"", false),
        ("FILTER last_visit > \"now-1d\"", true), ("FILTER NOT OR (a > 1, \"now-2h\" < seen)", true),
        ("FILTER x BETWEEN \"now-1d\" AND 5", true), ("FILTER INCLUDE other", true),
    ])
    func dependsOnTime(text: String, expected: Bool) throws {
        let f = try QLParser.parseFilter(text)
        #expect(NextFlip.Plan(f).dependsOnTime == expected)
        if !expected {
            for shift: Int64 in [0, 3_600_000, 400 * 86_400_000] {
                var c = ctx()
                c.nowMs += shift
                #expect(NextFlip.compute(f, c) == nil)
            }
        }
    }
}

extension NextFlipTests {
    /// Nothing flips before the computed instant (or ever, when there is none), for every shape,
    /// at many starting instants: sampled between now and then, the result stays what it is now.
    @Test(arguments: [
        "FILTER AND (visits > 1, last_visit > \"now-2d\", signup < \"now-1y\")",
        "FILTER OR (last_visit > \"now-1d\", NOT events.ordered > \"now-30d\")",
        "FILTER \"now-3d\" < last_visit",
        "FILTER last_visit BETWEEN \"now-1d\" AND \"now+1d\"",
        "FILTER signup BETWEEN \"now-2y\" AND \"2030-01-01\"",
        "FILTER events.signed_up >= \"now-1M\"",
        "FILTER AND (INCLUDE recent, vip == true)",
        "FILTER NOT INCLUDE missing",
        "FILTER last_visit == \"now-1d\"",
        "FILTER visits > 5",
    ])
    func noFlipBeforeTheComputedInstant(text: String) throws {
        let f = try QLParser.parseFilter(text)
        let plan = NextFlip.Plan(f)
        for shift in stride(from: -500 * day, through: 500 * day, by: Int(37 * day / 3)) {
            var c = ctx(includes: ["recent": "FILTER last_visit > \"now-5d\""])
            c.nowMs += shift
            let flip = plan.compute(c)
            #expect(flip == NextFlip.compute(f, c))
            if let flip { #expect(flip > c.nowMs) }
            let end = flip ?? c.nowMs + 800 * day
            let base = QLEvaluator.matches(f, c)
            for k in 1...40 {
                var later = c
                later.nowMs = c.nowMs + (end - 1 - c.nowMs) * Int64(k) / 40
                #expect(QLEvaluator.matches(f, later) == base, "\(text) from \(shift): changed before \(String(describing: flip))")
            }
        }
    }
}

@Suite struct QLAnalysisTests {
    @Test func fieldsIncludesAndFieldValues() throws {
        let f = try QLParser.parseFilter("FILTER AND (country IN (\"US\", \"CA\", \"MX\"), score BETWEEN 1 AND 9, events.buy > \"now-3d\", NOT INCLUDE Churned, tolower(email) LIKE \"*@x.com\")")
        #expect(QLAnalysis.fields(f.body) == ["country", "score", "events", "email"])
        #expect(QLAnalysis.includes(f.body) == ["churned"])
        #expect(QLAnalysis.fieldValueCount(f.body) == 7)
    }
}
