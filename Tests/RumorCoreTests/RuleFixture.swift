@testable import RumorCore
import RumorWire
import Testing

/// The node under test in the protocol-rule suites: one instance named "me", a virtual clock that only moves when a
/// test says so, and peers p1, p2, … at 10.0.1.i. Every input goes through the pure `Instance.handle(_:at:)`.
struct TestNode {
    static let address = Address(ip: [10, 0, 0, 1], port: 7946)
    static func peer(_ i: Int) -> Address { Address(ip: [10, 0, 1, UInt8(i)], port: 7946) }
    /// Version vectors by the highest memberlist protocol they speak (the features in docs/protocol.md#versions).
    static func vsn(protocolMax: UInt8) -> [UInt8] { [1, protocolMax, 2, 2, 5, 5] }

    var instance: Instance
    var now = Instant.zero
    /// Peer name → address, for the peers this test introduced.
    var peers: [String: Address] = [:]

    /// Starts "me" (tags role=web) and introduces `peers` alive peers p1…pN speaking `protocolMax`.
    init(
        peers count: Int = 0, protocolMax: UInt8 = 5, settings: MemberlistSettings = .lan,
        serf: SerfSettings = SerfSettings(), tags: [String: String] = ["role": "web"]
    ) {
        instance = Instance(name: "me", address: Self.address, tags: tags, settings: settings, serfSettings: serf, seed: 1)
        _ = instance.start(at: now)
        for i in stride(from: 1, through: count, by: 1) { add("p\(i)", protocolMax: protocolMax) }
    }

    // MARK: Inputs

    @discardableResult
    mutating func handle(_ input: Input, after delay: Duration = .zero) -> [Effect] {
        now = now + delay
        return instance.handle(input, at: now)
    }

    /// Fires `timer` at `at` (or now, if that has passed): the way a driver hands a scheduled timer back.
    @discardableResult
    mutating func fire(_ timer: Timer, at: Instant? = nil) -> [Effect] {
        now = max(now, at ?? now)
        return instance.handle(.timer(timer), at: now)
    }

    /// Fires `timer` at the instant `effects` scheduled it for.
    @discardableResult
    mutating func fire(_ timer: Timer, scheduledIn effects: [Effect]) -> [Effect] {
        guard let at = effects.timers[timer] else {
            Issue.record("\(timer) was not scheduled in \(effects)")
            return []
        }
        return fire(timer, at: at)
    }

    @discardableResult
    mutating func receive(_ message: MemberlistMessage, from: Address = TestNode.peer(1), after delay: Duration = .zero) -> [Effect] {
        handle(.packet(MemberlistCodec.encode(message), from: from), after: delay)
    }

    @discardableResult
    mutating func receive(serf message: SerfMessage, from: Address = TestNode.peer(1), after delay: Duration = .zero) -> [Effect] {
        receive(.user(SerfCodec.encode(message)), from: from, after: delay)
    }

    /// An alive message for `name` (a new peer gets the next free 10.0.1.i address).
    @discardableResult
    mutating func add(
        _ name: String, incarnation: UInt32 = 1, protocolMax: UInt8 = 5, tags: [String: String] = [:], at address: Address? = nil
    ) -> [Effect] {
        let addr = address ?? peers[name] ?? Self.peer(peers.count + 1)
        peers[name] = addr
        let alive = Alive(
            incarnation: incarnation, node: name, addr: addr.ip, port: addr.port, meta: SerfCodec.encodeTags(tags),
            vsn: Self.vsn(protocolMax: protocolMax))
        return receive(.alive(alive), from: addr)
    }

    /// Marks `name` failed, as another node's dead message does.
    @discardableResult
    mutating func fail(_ name: String, incarnation: UInt32 = 1) -> [Effect] {
        receive(.dead(Dead(incarnation: incarnation, node: name, from: "someone")))
    }

    /// Runs one probe tick and returns its effects with the ping it sent (nil if none).
    mutating func probe(after delay: Duration = .zero) -> (effects: [Effect], ping: Ping?, to: Address?) {
        let effects = handle(.timer(.probe), after: delay)
        for (message, to) in effects.packets { if case .ping(let p) = message { return (effects, p, to) } }
        return (effects, nil, nil)
    }

    /// Fires one gossip tick and returns everything it sent, memberlist and Serf messages alike.
    mutating func gossip(after delay: Duration = .milliseconds(200)) -> [Effect] {
        handle(.timer(.gossip), after: delay)
    }

    // MARK: Views

    func status(_ name: String) -> MemberStatus? { instance.member(named: name)?.status }
}

extension Array where Element == Effect {
    /// Every memberlist message sent over UDP, unwrapped from CRC, compress and compound containers.
    var packets: [(message: MemberlistMessage, to: Address)] {
        flatMap { effect -> [(message: MemberlistMessage, to: Address)] in
            guard case .send(let bytes, let to) = effect else { return [] }
            return MemberlistCodec.decodePacket(bytes).messages.map { ($0, to) }
        }
    }

    /// The Serf messages among `packets` (memberlist user messages).
    var serfPackets: [(message: SerfMessage, to: Address)] {
        packets.compactMap { packet in
            guard case .user(let bytes) = packet.message, let serf = try? SerfCodec.decode(bytes) else { return nil }
            return (serf, packet.to)
        }
    }

    var events: [Event] { compactMap { if case .emit(let e) = $0 { e } else { nil } } }

    var warnings: [String] { events.compactMap { if case .warning(let w) = $0 { w } else { nil } } }

    /// When each timer was asked for (the last request wins, as a driver would see it).
    var timers: [Timer: Instant] {
        var out: [Timer: Instant] = [:]
        for case .schedule(let timer, let at) in self { out[timer] = at }
        return out
    }

    /// The suspicion timers asked for, by suspected node (a node suspected here has one; a confirmation moves it).
    var suspicionTimers: [String: Instant] {
        var out: [String: Instant] = [:]
        for case .schedule(.suspicion(let node, _), let at) in self { out[node] = at }
        return out
    }

    /// Streams the instance opened, with their one message decoded.
    var streams: [(id: StreamID, to: Address, message: MemberlistMessage?, timeout: Duration)] {
        compactMap { effect in
            guard case .openStream(let id, let to, let payload, _, let timeout) = effect else { return nil }
            return (id, to, try? MemberlistCodec.decodeStream(payload), timeout)
        }
    }

    /// Replies to inbound streams (`nil` message: closed without a reply).
    var replies: [(id: StreamID, message: MemberlistMessage?)] {
        compactMap { effect in
            guard case .replyStream(let id, let payload) = effect else { return nil }
            return (id, payload.flatMap { try? MemberlistCodec.decodeStream($0) })
        }
    }

    var joined: [String] { events.compactMap { if case .memberJoined(let m) = $0 { m.name } else { nil } } }
    var failed: [String] { events.compactMap { if case .memberFailed(let m) = $0 { m.name } else { nil } } }
    var left: [String] { events.compactMap { if case .memberLeft(let m) = $0 { m.name } else { nil } } }
    var reaped: [String] { events.compactMap { if case .memberReaped(let m) = $0 { m.name } else { nil } } }
    var updated: [Member] { events.compactMap { if case .memberUpdated(let m) = $0 { m } else { nil } } }
}

extension MemberlistMessage {
    var suspect: Suspect? { if case .suspect(let s) = self { s } else { nil } }
    var dead: Dead? { if case .dead(let d) = self { d } else { nil } }
    var alive: Alive? { if case .alive(let a) = self { a } else { nil } }
    var indirectPing: IndirectPing? { if case .indirectPing(let p) = self { p } else { nil } }
    var ping: Ping? { if case .ping(let p) = self { p } else { nil } }
    var ack: Ack? { if case .ack(let a) = self { a } else { nil } }
    var nack: Nack? { if case .nack(let n) = self { n } else { nil } }
    var pushPull: PushPull? { if case .pushPull(let p) = self { p } else { nil } }
}
