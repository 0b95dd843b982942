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

/// The gossip socket's receive buffer is memberlist's: 2 MiB asked for, so the kernel grants twice its cap
/// (net.core.rmem_max), where a socket left alone gets net.core.rmem_default.
@Suite struct UDPReceiveBufferTests {
    static func sysctl(_ name: String) -> Int? {
        (try? String(contentsOfFile: "/proc/sys/net/core/\(name)", encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func theGossipSocketAsksForMemberlists2MiB() async throws {
        let runtime = Runtime(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: Logger(label: "test"))
        try await runtime.start(host: "127.0.0.1", port: 0) { port in
            Instance(name: "buffer", address: Address(ip: [127, 0, 0, 1], port: UInt16(port)), tags: [:], seed: 1)
        }.get()
        defer { _ = try? runtime.shutdown().wait() }
        let granted = try await runtime.eventLoop.flatSubmit {
            runtime.udp!.getOption(ChannelOptions.socketOption(.so_rcvbuf))
        }.get()
        let cap = Self.sysctl("rmem_max") ?? 212_992
        let expected = 2 * min(Int(Runtime.udpReceiveBuffer), cap)
        #expect(Int(granted) == expected, "granted \(granted), rmem_max \(cap), rmem_default \(Self.sysctl("rmem_default") ?? -1)")
        #expect(Int(granted) > Self.sysctl("rmem_default") ?? 0)
    }
}
