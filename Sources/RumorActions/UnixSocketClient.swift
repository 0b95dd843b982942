import RumorSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One request/response exchange with an HAProxy CLI socket (stats socket or master CLI), in HAProxy's
/// non-interactive mode: send one line, half-close, read until HAProxy closes. Blocking with a deadline; callers
/// run it on the action's thread pool, never on an event loop. A fresh connection per command keeps it simple and
/// costs ~0.1 ms on a unix socket.
enum UnixSocketClient {
    static func exchange(
        path: String, command: String, timeout: Duration = .seconds(5)
    ) throws(HAProxyActionError) -> String {
        func failure(_ what: String, _ code: Int32) -> HAProxyActionError {
            .runtimeAPI(socket: path, command: command, message: "\(what): \(errnoDescription(code))")
        }
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_STREAM
        #endif
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw failure("socket", errno) }
        defer { close(fd) }

        var tv = timeval(
            tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .runtimeAPI(socket: path, command: command, message: "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw failure("connect", errno) }

        var request = Array((command + "\n").utf8)[...]
        while !request.isEmpty {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("send", errno)
            }
            request = request.dropFirst(n)
        }
        // The master CLI answers only once the client half-closes; the stats socket does not mind.
        shutdown(fd, Int32(SHUT_WR))

        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("receive", errno)
            }
            if n == 0 { break }
            response += buffer[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }
}
