import RumorCore
import RumorWire

/// A deterministic cluster simulator: N protocol instances on a virtual clock, connected by an in-memory network
/// with loss, delay, duplication and partitions, all driven by one seeded generator.
///
/// It interprets the same effects the real runtime carries out, and every packet goes through the real codec, so
/// a simulated cluster exercises exactly the code that runs in production, minus sockets.
public final class Simulation {
    public struct Network: Sendable {
        /// Probability that any one UDP packet is lost.
        public var loss = 0.0
        /// Probability that a delivered UDP packet arrives twice.
        public var duplication = 0.0
        /// One-way delay, uniformly distributed.
        public var minDelay: Duration = .microseconds(200)
        public var maxDelay: Duration = .milliseconds(2)
        public init() {}
    }

    enum Step {
        case packet([UInt8], to: Address, from: Address)
        case timer(Timer, node: Address, incarnation: Int)
        case streamOpen(StreamID, payload: [UInt8], to: Address, from: Address, expectsReply: Bool)
        case streamReply(StreamID, Result<[UInt8], StreamFailure>, to: Address)
    }

    struct SimNode {
        var instance: Instance
        var running = true
        /// Bumped on restart, so timers of the previous life are ignored.
        var life = 0
        /// Inbound streams waiting for our reply: local stream id -> (remote opener, its stream id).
        var inbound: [StreamID: (opener: Address, id: StreamID)] = [:]
        var nextInbound: UInt64 = 1 << 40
    }

    public let seed: UInt64
    public var network = Network()
    public private(set) var now: Instant = .zero
    public private(set) var packetsSent = 0
    public private(set) var bytesSent = 0
    var rng: SplitMix64
    var nodes: [Address: SimNode] = [:]
    var queue = EventQueue<Step>()
    /// Group id per address; packets only flow within a group. Empty: no partition.
    var partition: [Address: Int] = [:]
    /// Everything each node emitted, for assertions.
    public private(set) var events: [Address: [Event]] = [:]
    public var settings: MemberlistSettings
    public var serfSettings = SerfSettings()

    public init(seed: UInt64, settings: MemberlistSettings = .lan) {
        self.seed = seed
        self.rng = SplitMix64(seed: seed)
        self.settings = settings
    }

    /// `10.0.x.y:7946` for node `i`: distinct, stable addresses.
    public static func address(_ i: Int) -> Address {
        Address(ip: [10, 0, UInt8(i / 256), UInt8(i % 256)], port: 7946)
    }

    public static func name(_ i: Int) -> String { "node-\(i)" }

    // MARK: - Cluster control

    /// Starts node `i` (or restarts it with a fresh state under the same name and address).
    public func start(_ i: Int, tags: [String: String] = [:]) {
        let addr = Self.address(i)
        let instance = Instance(
            name: Self.name(i), address: addr, tags: tags, settings: settings, serfSettings: serfSettings,
            seed: rng.next())
        var node = SimNode(instance: instance)
        node.life = (nodes[addr]?.life ?? 0) + 1
        nodes[addr] = node
        apply(nodes[addr]!.instance.start(at: now), at: addr)
    }

    /// Asks node `i` to join through node `seed`.
    public func join(_ i: Int, via other: Int) {
        input(.command(.join([Self.address(other)], replay: false, id: UInt64(i))), to: Self.address(i))
    }

    /// Stops node `i` abruptly, as kill -9 would.
    public func kill(_ i: Int) { nodes[Self.address(i)]?.running = false }

    public func leave(_ i: Int) { input(.command(.leave), to: Self.address(i)) }

    public func command(_ c: Command, to i: Int) { input(.command(c), to: Self.address(i)) }

    /// Splits the cluster: nodes in different groups cannot exchange anything.
    public func partition(_ groups: [[Int]]) {
        partition = [:]
        for (g, members) in groups.enumerated() { for i in members { partition[Self.address(i)] = g } }
    }

    public func heal() { partition = [:] }

    // MARK: - Running

    /// Runs until virtual time `deadline`.
    public func run(for duration: Duration) {
        let end = now + duration
        while let t = queue.nextTime, t <= end {
            let (at, step) = queue.pop()!
            now = at
            perform(step)
        }
        now = end
    }

    /// Runs until `condition` holds (checked every `step`) or `limit` passes. Returns whether it held.
    @discardableResult
    public func run(until condition: (Simulation) -> Bool, limit: Duration, step: Duration = .milliseconds(100)) -> Bool {
        let end = now + limit
        while now < end {
            if condition(self) { return true }
            run(for: step)
        }
        return condition(self)
    }

    // MARK: - Views

    public func instance(_ i: Int) -> Instance? { nodes[Self.address(i)]?.instance }

    public func isRunning(_ i: Int) -> Bool { nodes[Self.address(i)]?.running ?? false }

    /// What running node `i` believes about `other`.
    public func status(of other: Int, seenBy i: Int) -> MemberStatus? {
        instance(i)?.member(named: Self.name(other))?.status
    }

    public func events(of i: Int) -> [Event] { events[Self.address(i)] ?? [] }

    public var runningNodes: [Int] {
        nodes.filter(\.value.running).map { Int($0.key.ip[2]) * 256 + Int($0.key.ip[3]) }.sorted()
    }

    // MARK: - Effect interpretation

    func input(_ input: Input, to addr: Address) {
        guard var node = nodes[addr], node.running else { return }
        let effects = node.instance.handle(input, at: now)
        nodes[addr] = node
        apply(effects, at: addr)
    }

    func apply(_ effects: [Effect], at addr: Address) {
        for effect in effects.map(\.encodedNow) {
            switch effect {
            case .send(let bytes, let to):
                packetsSent += 1
                bytesSent += bytes.count
                guard reachable(addr, to), !chance(network.loss) else { continue }
                queue.push(.packet(bytes, to: to, from: addr), at: now + delay())
                if chance(network.duplication) { queue.push(.packet(bytes, to: to, from: addr), at: now + delay()) }
            case .openStream(let id, let to, let payload, let expectsReply, let timeout):
                bytesSent += payload.count
                if reachable(addr, to), nodes[to]?.running == true {
                    queue.push(.streamOpen(id, payload: payload, to: to, from: addr, expectsReply: expectsReply), at: now + delay())
                } else if expectsReply {
                    let failure = StreamFailure(nodes[to]?.running == true ? "i/o timeout" : "connection refused")
                    let at = nodes[to]?.running == true ? now + timeout : now + delay()
                    queue.push(.streamReply(id, .failure(failure), to: addr), at: at)
                }
            case .replyStream(let local, let payload):
                guard let (opener, id) = nodes[addr]?.inbound.removeValue(forKey: local), let payload else { continue }
                bytesSent += payload.count
                let result: Result<[UInt8], StreamFailure> =
                    reachable(addr, opener) ? .success(payload) : .failure(StreamFailure("i/o timeout"))
                queue.push(.streamReply(id, result, to: opener), at: now + delay())
            case .schedule(let timer, let at):
                queue.push(.timer(timer, node: addr, incarnation: nodes[addr]?.life ?? 0), at: at)
            case .emit(let event):
                events[addr, default: []].append(event)
            case .openStreamState, .replyStreamState:
                break  // encoded above
            }
        }
    }

    func perform(_ step: Step) {
        switch step {
        case .packet(let bytes, let to, let from):
            input(.packet(bytes, from: from), to: to)
        case .timer(let timer, let addr, let life):
            guard nodes[addr]?.life == life else { return }
            input(.timer(timer), to: addr)
        case .streamOpen(let id, let payload, let to, let from, let expectsReply):
            guard var node = nodes[to], node.running else {
                if expectsReply { queue.push(.streamReply(id, .failure(StreamFailure("connection refused")), to: from), at: now) }
                return
            }
            node.nextInbound += 1
            let local = StreamID(node.nextInbound)
            if expectsReply { node.inbound[local] = (from, id) }
            nodes[to] = node
            input(.stream(local, payload: payload, from: from), to: to)
        case .streamReply(let id, let result, let to):
            input(.streamReply(id, result), to: to)
        }
    }

    func reachable(_ a: Address, _ b: Address) -> Bool {
        guard !partition.isEmpty else { return true }
        return partition[a] == partition[b]
    }

    func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &rng) < p }

    func delay() -> Duration {
        let lo = network.minDelay.nanoseconds, hi = network.maxDelay.nanoseconds
        return .nanoseconds(hi > lo ? Int64.random(in: lo...hi, using: &rng) : lo)
    }
}
