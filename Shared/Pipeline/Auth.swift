import Crypto
import HTTP
import Model
import Runtime

/// What an API key may do. `admin` (the account's configuration) includes `read` and `collect`.
public enum Role: String, Sendable, CaseIterable {
    case collect, read, admin
}

/// Who is calling, for which account.
public struct Principal: Sendable, Equatable {
    /// The account the request acts on.
    public var account: String
    /// The operator (`CDP_ADMIN_TOKEN`): every right on every account.
    public var isOperator: Bool
    public var roles: Set<Role>
    /// The API key's id (nil for the operator).
    public var keyID: String?

    public func may(_ role: Role) -> Bool {
        isOperator || roles.contains(role) || roles.contains(.admin)
    }

    /// Recorded as `updated_by` on configuration writes.
    public var actor: String { isOperator ? "admin" : "key:\(keyID ?? "?")" }
}

/// Resolves the caller from the request. Keys travel as `Authorization: <token>`,
/// `Authorization: Bearer <token>`, HTTP Basic (the key as user name, as Segment clients send
/// it), or `?access_token=` / `?key=`. Only SHA-256 hashes of tokens are stored.
public struct Authenticator: Sendable {
    let adminToken: String?
    let view: ConfigView

    public init(adminToken: String?, view: ConfigView) {
        self.adminToken = adminToken
        self.view = view
    }

    public static let defaultAccount = "default"

    /// The principal, or the 401/403/404 response to send.
    public func authenticate(_ request: HTTPRequest, role: Role) -> Result<Principal, AuthFailure> {
        guard let token = Self.token(from: request) else { return .failure(.unauthorized("missing API key")) }
        let requested = request.query("aid")
        if let requested, Identifier.accountProblem(requested) != nil { return .failure(.badRequest("invalid aid '\(requested)'")) }
        if let adminToken, Digest.constantTimeEqual(Array(token.utf8), Array(adminToken.utf8)) {
            return .success(Principal(account: requested ?? Self.defaultAccount, isOperator: true, roles: Set(Role.allCases), keyID: nil))
        }
        let hash = Digest.sha256Hex(token)
        guard let key = view.read({ $0.apiKey(tokenSHA256: hash) }) else { return .failure(.unauthorized("unknown API key")) }
        let account = key.key.account
        if let requested, requested != account {
            return .failure(.forbidden("this key belongs to account '\(account)' and cannot act on '\(requested)'"))
        }
        let roles = Set((key.body["roles"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Role.init(rawValue:)) })
        let principal = Principal(account: account, isOperator: false, roles: roles, keyID: key.key.id)
        guard principal.may(role) else { return .failure(.forbidden("this key lacks the '\(role.rawValue)' role")) }
        return .success(principal)
    }

    static func token(from request: HTTPRequest) -> String? {
        if let header = request.headers["authorization"]?.trimmingCharacters(in: .whitespaces), !header.isEmpty {
            let lower = header.lowercased()
            if lower.hasPrefix("bearer ") { return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            if lower.hasPrefix("basic ") {
                let encoded = String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)
                guard let data = Base64.decode(encoded) else { return nil }
                let text = String(decoding: data, as: UTF8.self)
                return String(text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            }
            return header
        }
        return request.query("access_token") ?? request.query("key")
    }
}

/// An authentication or authorisation failure and its HTTP status.
public enum AuthFailure: Error, Equatable {
    case unauthorized(String)
    case forbidden(String)
    case badRequest(String)

    public var response: HTTPResponse {
        switch self {
        case .unauthorized(let m): .error(401, m, headers: [("WWW-Authenticate", "Bearer")])
        case .forbidden(let m): .error(403, m)
        case .badRequest(let m): .error(400, m)
        }
    }
}

/// Standard base64 decoding without Foundation's Data round trip.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var table = [UInt8](repeating: 255, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            let v = table[Int(c)]
            if v == 255 { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xff))
            }
        }
        return out
    }
}
