import Foundation
import QL
import Runtime

/// `cdp ql check` and `cdp ql eval`.
enum QLCommand {
    static let usage = """
    usage: cdp ql check FILE|-          parse; print errors with line:column, or a summary
           cdp ql eval [--now RFC3339]  JSON lines on stdin, one result line per case
           cdp ql bench [--profiles N] [--csv PATH]   a 10-condition audience over N profiles

    eval input:  {"expr": "FILTER ... | SELECT ... | expression", "data": {...}, "now": "RFC3339"?,
                  "ts": "RFC3339"?, "includes": {"alias": "FILTER ..."}?}
    In data, integers are int, numbers with a fraction are number, {"$time": "RFC3339"} is a time.
    output: {"match": bool} for FILTER (+ "next_flip"), {"row": {...}|null} for SELECT,
            {"ok", "value", "type"} for an expression, {"error": "..."} for a parse error.
    """

    static func run(_ context: inout CLIContext) async throws {
        let nowText = context.reader.optionalString(flag: "--now")
        let profiles = context.reader.int(flag: "--profiles", default: 1_000_000, range: 1...50_000_000)
        let csv = context.reader.optionalString(flag: "--csv")
        let printSQL = context.reader.bool(flag: "--print-sql", default: false)
        try context.finish()
        let args = context.reader.positional
        switch args.first {
        case "check":
            guard args.count == 2 else { throw UsageError(message: "check needs FILE or -") }
            let data = args[1] == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: args[1])
            guard let data else { throw CommandFailure(message: "cannot read \(args[1])", code: 66) }
            let text = String(decoding: data, as: UTF8.self)
            do throws(QLError) {
                switch try QLParser.parse(text) {
                case .filter(let f):
                    print("ok: FILTER" + (f.alias.map { " ALIAS \($0)" } ?? "") + (f.from.map { " FROM \($0)" } ?? ""))
                case .select(let s):
                    print("ok: SELECT \(s.columns.count) columns FROM \(s.from)" + (s.alias.map { " ALIAS \($0)" } ?? ""))
                    for c in s.columns {
                        print("  \(c.name)" + (c.kind.map { " KIND \($0)" } ?? "") + (c.mergeOp.map { " MERGEOP \($0)" } ?? "") + (c.guardExpr != nil ? " IF ..." : ""))
                    }
                case .expression:
                    print("ok: expression")
                }
            } catch {
                throw CommandFailure(message: "\(args[1]):\(error.position.line):\(error.position.column): \(error.message)", code: 65)
            }
        case "eval":
            var now = Timestamp.nowMs()
            if let nowText {
                guard let t = DateMath.parseDate(nowText) else { throw UsageError(message: "--now must be RFC 3339") }
                now = t
            }
            var out = ""
            var lines = 0
            while let line = readLine(strippingNewline: true) {
                if line.allSatisfy(\.isWhitespace) { continue }
                out += QLEvalCase.run(line, defaultNowMs: now).serialized() + "\n"
                lines += 1
                if lines % 1000 == 0 {
                    FileHandle.standardOutput.write(Data(out.utf8))
                    out = ""
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        case "bench":
            if printSQL {
                print(QLBench.sql(nowMs: QLBench.nowMs))
                return
            }
            try QLBench.run(count: profiles, csvPath: csv)
        default:
            throw UsageError(message: "expected check, eval or bench")
        }
    }
}
