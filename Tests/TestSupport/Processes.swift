import Foundation

/// Locates the built executables (the test bundle lives in the same build folder).
public enum BuildProducts {
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["CDP_BIN_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Inside an .xctest bundle on macOS the binary sits deeper; walk up to the build folder.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cdp-devbroker").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    public static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}

/// A child process with its output captured.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let inputPipe = Pipe()
        process.standardInput = inputPipe
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.out.append(d); self.lock.unlock()
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.err.append(d); self.lock.unlock()
        }
        try process.run()
        if let stdin { inputPipe.fileHandleForWriting.write(stdin) }
        try? inputPipe.fileHandleForWriting.close()
    }

    public var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    public var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

    /// Waits for exit (at most `timeout` seconds, then kills) and returns the exit status.
    /// Polls with `Task.sleep`: tests never block Swift's cooperative pool, which the code under
    /// test (HTTP handlers, clients) needs.
    @discardableResult
    public func wait(timeout: Double = 60) async -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        // Let the readability handlers drain.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    public func signal(_ signo: Int32) { kill(process.processIdentifier, signo) }

    /// Waits until `predicate` holds for the captured output.
    public func waitFor(timeout: Double = 20, _ predicate: (ChildProcess) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(self) { return true }
            if !process.isRunning { return predicate(self) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Runs a command to completion and returns (status, stdout, stderr).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: Data? = nil, timeout: Double = 60) async throws -> (status: Int32, stdout: String, stderr: String) {
        let p = try ChildProcess(executable, arguments, environment: environment, stdin: stdin)
        let status = await p.wait(timeout: timeout)
        return (status, p.stdout, p.stderr)
    }
}

/// A `cdp-devbroker` process for a test; stopped with SIGTERM on `stop()`.
public final class DevBrokerProcess: @unchecked Sendable {
    public let child: ChildProcess
    public let bootstrap: String

    private init(child: ChildProcess, bootstrap: String) {
        self.child = child
        self.bootstrap = bootstrap
    }

    /// Starts a dev broker and waits for its address.
    public static func start(arguments: [String] = []) async throws -> DevBrokerProcess {
        let child = try ChildProcess(BuildProducts.path("cdp-devbroker"), arguments)
        guard await child.waitFor(timeout: 20, { $0.stdout.contains("\n") }) else {
            child.signal(SIGKILL)
            throw TestFailure("cdp-devbroker did not print its address; stderr: \(child.stderr)")
        }
        return DevBrokerProcess(child: child, bootstrap: child.stdout.split(separator: "\n")[0].trimmingCharacters(in: .whitespaces))
    }

    public func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.wait(timeout: 20)
    }

    deinit {
        if child.process.isRunning {
            child.signal(SIGKILL)
            child.process.waitUntilExit()
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Whether an executable is on PATH.
public func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Reads `topic` from its start to its end with kcat (`format` as kcat's `-f`, or one value per
/// line), again every 100 ms until `until` holds for what was read or `attempts` run out; returns
/// the last read. Daemons update their APIs before their records reach the broker, so a test
/// that saw a change through an API polls the topic rather than reading it once.
public func readTopic(_ kcat: String, brokers: String, _ topic: String, format: String? = nil, attempts: Int = 50,
                      until: (String) -> Bool) async throws -> String {
    var out = ""
    for attempt in 0..<attempts {
        if attempt > 0 { try await Task.sleep(for: .milliseconds(100)) }
        out = try await ChildProcess.run(kcat, ["-b", brokers, "-C", "-t", topic, "-e", "-q"] + (format.map { ["-f", $0] } ?? [])).stdout
        if until(out) { break }
    }
    return out
}
