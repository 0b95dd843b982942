#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A test-owned UDP socket, bound to a loopback IP of the test's own range so its traffic is easy to attribute.
final class UDPSocket {
    let fd: Int32
    let port: UInt16

    init(bindIP: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket(): errno \(errno)") }
        var addr = socketAddress(bindIP, 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, addressSize) }
        }
        guard bound == 0 else {
            close(fd)
            throw HarnessError("bind(\(bindIP)): errno \(errno)")
        }
        var local = sockaddr_in()
        var len = addressSize
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = UInt16(bigEndian: local.sin_port)
    }

    deinit { close(fd) }

    /// Sends one datagram; returns false if the kernel refused it (loss on a full receiver is silent, as UDP is).
    @discardableResult
    func send(_ bytes: [UInt8], to ip: String, port: UInt16) -> Bool {
        var addr = socketAddress(ip, port)
        let sent = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, 0, $0, addressSize)
                }
            }
        }
        return sent == bytes.count
    }

    /// The next datagram from `ip` arriving within `timeoutMs`, skipping datagrams from anyone else.
    func receive(from ip: String, timeoutMs: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, timeoutMs) == 1 else { return nil }
            var from = sockaddr_in()
            var len = addressSize
            let n = buffer.withUnsafeMutableBytes { buf in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, buf.baseAddress, buf.count, 0, $0, &len)
                    }
                }
            }
            guard n >= 0 else { return nil }
            if ipString(from.sin_addr) == ip { return Array(buffer.prefix(n)) }
        }
    }

    /// Discards everything already queued (acks to the blast, say).
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) >= 0 {}
    }
}

/// Raw TCP from the test: used to feed agents bytes no well-behaved client would send.
enum RawTCP {
    /// Opens a connection from `sourceIP`; nil if refused.
    static func connect(to ip: String, port: UInt16, from sourceIP: String) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = socketAddress(sourceIP, 0)
        var remote = socketAddress(ip, port)
                let ok = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, addressSize) }
        } == 0 && withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, addressSize) }
        } == 0
        guard ok else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Writes all of `bytes` unless the peer hangs up first (MSG_NOSIGNAL: a reset must not SIGPIPE the tests).
    @discardableResult
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Connects, writes, closes. Returns false only if the connection was refused outright.
    @discardableResult
    static func sendAndClose(_ bytes: [UInt8], to ip: String, port: UInt16, from sourceIP: String) -> Bool {
        guard let fd = connect(to: ip, port: port, from: sourceIP) else { return false }
        write(fd, bytes)
        close(fd)
        return true
    }
}

func socketAddress(_ ip: String, _ port: UInt16) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    _ = inet_pton(AF_INET, ip, &addr.sin_addr)
    return addr
}

func ipString(_ addr: in_addr) -> String {
    var a = addr
    var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
    _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

let addressSize = socklen_t(MemoryLayout<sockaddr_in>.size)
