import RumorSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few blocking POSIX socket calls the CLI's RPC client needs. Errors read like Go's ("connection refused").
enum Socket {
    /// Resolves `host:port` (or `[v6]:port`; port 7373 if none) and connects to the first address that answers.
    static func open(_ address: String, timeoutMillis: Int32) throws(RPCClientError) -> Int32 {
        let hp: HostPort
        do throws(HostPort.ParseError) {
            hp = try HostPort.parse(address, defaultPort: 7373, defaultHost: "127.0.0.1", what: "RPC address")
        } catch {
            throw RPCClientError(.connect, "\(error)")
        }
        var lastError = RPCClientError(.connect, "no address for \(address)")
        var connected: Int32?
        do {
            try NameLookup.forEach(hp.host, port: hp.port) { ai in
                do throws(RPCClientError) { connected = try open(ai, timeoutMillis: timeoutMillis) } catch {
                    lastError = error
                }
                return connected == nil
            }
        } catch let failure as NameLookup.Failure {
            throw RPCClientError(.connect, lowercasedFirst(failure.reason))
        } catch {}
        guard let connected else { throw lastError }
        return connected
    }

    private static func open(_ ai: addrinfo, timeoutMillis: Int32) throws(RPCClientError) -> Int32 {
        let fd = socket(ai.ai_family, ai.ai_socktype, ai.ai_protocol)
        guard fd >= 0 else { throw errnoError(.connect) }
        var ok = false
        defer { if !ok { close(fd) } }
        // Non-blocking connect so an address that drops SYNs fails after the timeout, not minutes later.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw errnoError(.connect) }
            guard try waitFor(fd, events: Int16(POLLOUT), millis: timeoutMillis) else {
                throw RPCClientError(.connect, "i/o timeout")
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { throw RPCClientError(.connect, message(err)) }
        }
        _ = fcntl(fd, F_SETFL, flags)
        // Bounded sends, as serf's client sets a write deadline; reads wait for as long as the call takes.
        var tv = timeval(tv_sec: Int(timeoutMillis / 1000), tv_usec: Int(timeoutMillis % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Darwin)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        ok = true
        return fd
    }

    static func closeFD(_ fd: Int32) {
        _ = close(fd)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(RPCClientError) {
        guard fd >= 0 else { throw RPCClientError(.io, "client closed") }
        var sent = 0
        while sent < bytes.count {
            #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)  // a closed peer must give EPIPE, not kill the CLI
            #else
            let flags: Int32 = 0
            #endif
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, flags) }
            if n < 0 {
                if errno == EINTR { continue }
                throw errnoError(.io)
            }
            sent += n
        }
    }

    /// Appends what is available (blocking until something is); EOF is an error since a reply was expected.
    static func readSome(_ fd: Int32, into buffer: inout [UInt8]) throws(RPCClientError) {
        guard fd >= 0 else { throw RPCClientError(.io, "client closed") }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return
            }
            if n == 0 { throw RPCClientError(.io, "connection closed by the agent") }
            if errno == EINTR { continue }
            throw errnoError(.io)
        }
    }

    /// Waits until `events` are ready; false on timeout. EOF and errors count as ready (the next call reports them).
    static func waitFor(_ fd: Int32, events: Int16, millis: Int32) throws(RPCClientError) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = poll(&pfd, 1, millis)
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno != EINTR { throw errnoError(.io) }
        }
    }

    private static func errnoError(_ kind: RPCClientError.Kind) -> RPCClientError {
        RPCClientError(kind, message(errno))
    }

    private static func message(_ code: Int32) -> String {
        lowercasedFirst(errnoDescription(code))
    }

    /// Go's syscall messages start lowercase ("connection refused"); libc's are capitalised.
    private static func lowercasedFirst(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.lowercased() + s.dropFirst()
    }
}
