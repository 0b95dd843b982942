#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import RumorCore
import RumorWire
@testable import RumorRuntime
import Testing

/// NIO closes a UDP channel on most send errors (a link going down fails sendto with ENETUNREACH); the runtime
/// binds it again, so the agent keeps answering probes.
@Suite struct UDPRebindTests {
    /// Sends a ping to 127.0.0.1:`port` from a plain socket and waits up to 2 s for the ack's sequence number.
    static func pingAnswered(port: Int, seq: UInt32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ping = MemberlistCodec.encode(.ping(Ping(node: "rebind", seqNo: seq)))
        let sent = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, ping, ping.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard sent == ping.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0, case .ack(let ack) = MemberlistCodec.decodePacket(Array(buffer[0..<n])).messages.first else { return false }
        return ack.seqNo == seq
    }

    @Test func aSendErrorThatClosesTheUDPSocket_isFollowedByABindOfTheSamePort() async throws {
        let runtime = Runtime(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: Logger(label: "test"))
        try await runtime.start(host: "127.0.0.1", port: 0) { port in
            Instance(name: "rebind", address: Address(ip: [127, 0, 0, 1], port: UInt16(port)), tags: [:], seed: 1)
        }.get()
        defer { _ = try? runtime.shutdown().wait() }
        let port = runtime.boundPort
        #expect(Self.pingAnswered(port: port, seq: 1))
        let first = try await runtime.eventLoop.submit { runtime.udp.map(ObjectIdentifier.init) }.get()
        // A broadcast without SO_BROADCAST fails with EACCES, which NIO does not forgive: it closes the channel.
        try await runtime.eventLoop.submit { runtime.sendPacket([1, 2, 3], to: Address(ip: [255, 255, 255, 255], port: 9)) }.get()
        let deadline = ContinuousClock.now + .seconds(5)
        var rebound = false
        while ContinuousClock.now < deadline {
            rebound = try await runtime.eventLoop.submit {
                guard let udp = runtime.udp else { return false }
                return ObjectIdentifier(udp) != first && udp.isActive
            }.get()
            if rebound { break }
            try await Task.sleep(for: .milliseconds(20))  // polling the condition, with the deadline above
        }
        #expect(rebound, "the UDP socket was not bound again")
        #expect(Self.pingAnswered(port: port, seq: 2), "no ack after the rebind")
    }
}
