import Foundation
import NIOConcurrencyHelpers
import RumorDocker

#if canImport(Glibc)
import Glibc
#endif

/// A fault injector standing in for "dockerd went away": a unix socket that forwards to the real engine's until
/// `down()`, which closes it and every connection through it, and listens again on `up()`. The engine itself is
/// shared with other tests and is never restarted.
final class UnixSocketProxy: @unchecked Sendable {
    let path: String
    let target: String
    private let lock = NIOLock()
    private var listener: Int32 = -1
    private var open: Set<Int32> = []

    init(path: String, target: String = (try? DockerClient.environmentSocketPath()) ?? "/var/run/docker.sock") {
        self.path = path
        self.target = target
    }

    func up() throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        lock.withLock { listener = fd }
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }  // closed by down()
                let upstream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                var target = Self.address(self.target)
                let connected = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
                guard connected == 0 else { close(client); close(upstream); continue }
                lock.withLock { open.formUnion([client, upstream]) }
                for (from, to) in [(client, upstream), (upstream, client)] {
                    Thread.detachNewThread { Self.pump(from, to) }
                }
            }
        }
    }

    /// The engine "goes away": the socket disappears and live connections (the event stream) break.
    func down() {
        let fds = lock.withLock { () -> [Int32] in
            defer { listener = -1; open = [] }
            return [listener] + Array(open)
        }
        for fd in fds where fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) ; close(fd) }
        unlink(path)
    }

    private static func pump(_ from: Int32, _ to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + off, n - off) }
                if w <= 0 { return }
                off += w
            }
        }
        shutdown(to, Int32(SHUT_WR))
    }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        return address
    }
}
