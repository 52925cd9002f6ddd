import HTTP
import Testing

@Suite struct QueryParametersTests {
    @Test(arguments: [
        ("/x", true, false),
        ("/x?dryrun", true, true),
        ("/x?dryrun=", true, true),
        ("/x?dryrun=true", true, true),
        ("/x?dryrun=TRUE", true, true),
        ("/x?dryrun=1", true, true),
        ("/x?dryrun=false", true, false),
        ("/x?dryrun=0", true, false),
        ("/x?other=yes", true, false),
        ("/x?dryrun=yes", false, false),
        ("/x?dryrun=2", false, false),
        ("/x?dryrun=%20true", false, false),
    ])
    func flags(target: String, valid: Bool, expected: Bool) {
        let request = HTTPRequest(method: "GET", target: target)
        do throws(QueryParameterError) {
            let value = try request.flag("dryrun")
            #expect(valid && value == expected, "\(target)")
        } catch {
            #expect(!valid, "\(target): \(error.message)")
            #expect(error.response.status == 400)
            #expect(error.message.hasPrefix("dryrun must be true or false, not '"))
        }
    }

    @Test(arguments: [
        ("/x", 20 as Int?),
        ("/x?limit=1", 1),
        ("/x?limit=50", 50),
        ("/x?limit=0", nil),
        ("/x?limit=51", nil),
        ("/x?limit=-1", nil),
        ("/x?limit=abc", nil),
        ("/x?limit=", nil),
        ("/x?limit=1e2", nil),
        ("/x?limit=99999999999999999999999", nil),
    ])
    func integers(target: String, expected: Int?) {
        let request = HTTPRequest(method: "GET", target: target)
        do throws(QueryParameterError) {
            let value = try request.integer("limit", default: 20, in: 1...50)
            #expect(value == expected, "\(target)")
        } catch {
            #expect(expected == nil, "\(target): \(error.message)")
            #expect(error.message.hasPrefix("limit must be a whole number from 1 to 50, not '"))
        }
    }
}
