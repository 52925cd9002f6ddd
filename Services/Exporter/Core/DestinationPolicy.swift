import Foundation
import Runtime

/// What a deployment lets an account's export jobs reach, where account admins are not the
/// machine's operators: file exports only inside the account's own folder of a root
/// (`CDP_EXPORT_FILE_ROOT`), webhooks and alerts only to listed hosts
/// (`CDP_EXPORT_ALLOWED_HOSTS`). Checked by the collector when a job is written and by the
/// exporter before it runs one. The default allows everything.
public struct DestinationPolicy: Sendable, Equatable {
    /// File exports of account A must lie in `<fileRoot>/A`; nil: any absolute directory.
    public var fileRoot: String?
    /// Host patterns, lower-case: `hooks.example.com`, or `*.example.com` for its subdomains;
    /// nil: any host.
    public var allowedHosts: [String]?

    public init(fileRoot: String? = nil, allowedHosts: [String]? = nil) {
        self.fileRoot = fileRoot
        self.allowedHosts = allowedHosts
    }

    /// Why a list of host patterns is not one, or nil. (An IPv6 address may come in brackets.)
    public static func hostPatternsProblem(_ patterns: [String]) -> String? {
        for p in patterns {
            let name = p.hasPrefix("*.") ? String(p.dropFirst(2)) : bare(p)
            guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x3A }),
                  !name.hasPrefix("."), !name.hasSuffix(".") else {
                return "'\(p)' is not a host name or '*.' followed by one"
            }
        }
        return patterns.isEmpty ? "no host named" : nil
    }

    /// Why `url` may not be called under this policy (`what` names the setting), or nil.
    func urlProblem(_ url: String, _ what: String) -> String? {
        guard let allowedHosts else { return nil }
        guard let parts = URLComponents(string: url), let host = parts.host.map({ Self.bare($0.lowercased()) }), !host.isEmpty else { return "\(what) has no host" }
        // What the HTTP client connects to must be what was checked: no user info or
        // backslashes, which parsers read differently (`http://allowed@internal/`).
        if parts.user != nil || parts.password != nil || url.contains("\\") {
            return "\(what) may not carry a user name, password or backslash where CDP_EXPORT_ALLOWED_HOSTS is set"
        }
        let allowed = allowedHosts.contains { p in p.hasPrefix("*.") ? host.hasSuffix(String(p.dropFirst(1))) : host == Self.bare(p) }
        return allowed ? nil : "\(what) host '\(host)' is not among the hosts this deployment allows (CDP_EXPORT_ALLOWED_HOSTS)"
    }

    /// A host without the brackets of an IPv6 address.
    static func bare(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// Why `dir` is not a directory account `account` may write to, or nil.
    func directoryProblem(_ dir: String, account: String) -> String? {
        guard let fileRoot else { return nil }
        let own = (fileRoot == "/" ? "" : fileRoot) + "/" + account
        let components = dir.split(separator: "/").filter { $0 != "." }
        guard components.starts(with: own.split(separator: "/")) else {
            return "\"destination.dir\" must be inside \(own) (this deployment keeps each account's file exports in its own folder of CDP_EXPORT_FILE_ROOT)"
        }
        return nil
    }
}

extension ConfigReader {
    /// The deployment's `DestinationPolicy`: `CDP_EXPORT_FILE_ROOT` (`--export-file-root`) and
    /// `CDP_EXPORT_ALLOWED_HOSTS` (`--export-allowed-hosts`, comma-separated patterns). The
    /// collector and the exporter read the same two settings.
    public mutating func destinationPolicy() -> DestinationPolicy {
        var policy = DestinationPolicy(fileRoot: directory(env: "CDP_EXPORT_FILE_ROOT", flag: "--export-file-root"))
        if let text = optionalString(env: "CDP_EXPORT_ALLOWED_HOSTS", flag: "--export-allowed-hosts") {
            let patterns = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            if let problem = DestinationPolicy.hostPatternsProblem(patterns) {
                self.problem("CDP_EXPORT_ALLOWED_HOSTS=\(text): \(problem)")
            } else {
                policy.allowedHosts = patterns
            }
        }
        return policy
    }
}
