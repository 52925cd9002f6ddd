import Foundation
import HTTP
import Runtime
import Synchronization

/// Accepts TCP connections on 127.0.0.1:`listenPort` and relays each to `target` (the mock
/// cluster's random port), so clients can use a fixed bootstrap address.
final class PortForwarder: Sendable {
    let target: ListenAddress
    let logger: Logger
    let maxConnections = 1024
    private let listenFD: Int32
    private let open = Mutex<Set<Int32>>([])
    private let stopped = AtomicFlag()

    init(listenPort: Int, target: ListenAddress, logger: Logger) throws {
        self.target = target
        self.logger = logger
        listenFD = try Socket.listen(host: "127.0.0.1", port: listenPort)
    }

    func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "cdp.devbroker.forward"
        thread.start()
    }

    func stop() {
        guard !stopped.exchange(true) else { return }
        Socket.shutdown(listenFD)
        Socket.close(listenFD)
        for fd in open.withLock({ $0 }) { Socket.shutdown(fd) }
    }

    private func acceptLoop() {
        while !stopped.load() {
            guard let client = try? Socket.accept(listenFD) else { return }
            guard open.withLock({ $0.count }) < maxConnections * 2 else {
                Socket.close(client)
                continue
            }
            let upstream: Int32
            do {
                upstream = try Socket.connect(host: target.host, port: target.port)
            } catch {
                logger.warning("cannot reach the mock broker", ["error": "\(error)"])
                Socket.close(client)
                continue
            }
            Socket.setNoDelay(client)
            Socket.setNoDelay(upstream)
            open.withLock { $0.formUnion([client, upstream]) }
            let remaining = AtomicInt(2)
            for (from, to) in [(client, upstream), (upstream, client)] {
                let thread = Thread { [self] in
                    pump(from: from, to: to)
                    // Either side closing ends the pair; the last pump closes both.
                    Socket.shutdown(from)
                    Socket.shutdown(to)
                    if remaining.subtract(1) == 1 {
                        open.withLock { $0.subtract([client, upstream]) }
                        Socket.close(client)
                        Socket.close(upstream)
                    }
                }
                thread.stackSize = 256 * 1024
                thread.start()
            }
        }
    }

    private func pump(from: Int32, to: Int32) {
        withUnsafeTemporaryAllocation(byteCount: 65536, alignment: 1) { buffer in
            while true {
                switch Socket.read(from, into: buffer) {
                case .data(let n):
                    if !Socket.writeAll(to, UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { return }
                case .timedOut:
                    continue
                case .closed, .failed:
                    return
                }
            }
        }
    }
}
