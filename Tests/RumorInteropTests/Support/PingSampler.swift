#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Measures an agent's event-loop latency from outside: a UDP ping every few milliseconds, one at a time, each
/// timed until its ack arrives. The agent answers pings on its only event loop, so the slowest round trip is the
/// longest the loop was held up (plus a fraction of a millisecond of loopback).
final class PingSampler: @unchecked Sendable {
    // @unchecked: the results are read and written under `lock`; the socket is used by the sampling thread only.
    private let lock = NSLock()
    private var samples: [Double] = []
    private var lost = 0
    /// When each unanswered or slow (over 50 ms) ping was sent, in ms since the last reset.
    private var slow: [Int] = []
    private var since = DispatchTime.now().uptimeNanoseconds
    private var running = true
    private var finished = false
    private let socket: UDPSocket
    private let target: Cluster.Node

    init(_ target: Cluster.Node, from ip: String) throws {
        self.target = target
        socket = try UDPSocket(bindIP: ip)
        let thread = Thread { [self] in run() }
        thread.start()
    }

    private func run() {
        var seq: UInt8 = 0
        while lock.withLock({ running }) {
            seq = seq &+ 1
            socket.drain()
            let start = DispatchTime.now().uptimeNanoseconds
            socket.send(HostileCorpus.ping(to: target.name, seq: seq & 0x7f, from: "sampler"), to: target.ip, port: Cluster.gossipPort)
            let reply = socket.receive(from: target.ip, timeoutMs: 1000)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            lock.withLock {
                if reply == nil { lost += 1 } else { samples.append(ms) }
                if reply == nil || ms > 50 { slow.append(Int((start &- since) / 1_000_000)) }
            }
            usleep(5_000)
        }
        lock.withLock { finished = true }
    }

    /// Clears what was measured so far (call when the interesting part starts).
    func reset() {
        lock.withLock {
            samples = []
            lost = 0
            slow = []
            since = DispatchTime.now().uptimeNanoseconds
        }
    }

    /// When the unanswered or slow pings of this period were sent (ms since the reset).
    var slowAt: [Int] { lock.withLock { slow } }

    /// The worst round trip in ms, the 99th percentile, how many pings, and how many went unanswered for 1 s.
    func summary() -> (max: Double, p99: Double, count: Int, lost: Int) {
        lock.withLock {
            let sorted = samples.sorted()
            let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            return (sorted.last ?? 0, p99, sorted.count, lost)
        }
    }

    func stop() {
        lock.withLock { running = false }
        while !lock.withLock({ finished }) { usleep(1_000) }
    }
}
