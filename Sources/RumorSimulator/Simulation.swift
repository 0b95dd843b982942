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

    /// Nodes are numbered; node i has `address(i)`. Steps name nodes by number, so a step costs no address hashing.
    enum Step {
        case packet([UInt8], to: Int, from: Int)
        case timer(Timer, node: Int, life: Int)
        case streamOpen(StreamID, payload: [UInt8], to: Int, from: Int, expectsReply: Bool)
        case streamReply(StreamID, Result<[UInt8], StreamFailure>, to: Int)
    }

    struct SimNode {
        var instance: Instance
        var running = true
        /// Bumped on restart, so timers of the previous life are ignored.
        var life = 0
        /// Inbound streams waiting for our reply: local stream id -> (remote opener, its stream id).
        var inbound: [StreamID: (opener: Int, id: StreamID)] = [:]
        var nextInbound: UInt64 = 1 << 40
    }

    public let seed: UInt64
    public var network = Network()
    public private(set) var now: Instant = .zero
    public private(set) var packetsSent = 0
    public private(set) var bytesSent = 0
    var rng: SplitMix64
    /// By node number; nil for numbers never started. Mutated in place: a copy of a node per input would copy every
    /// table it then changes, O(cluster size) per packet.
    var nodes: [SimNode?] = []
    /// `address(i)` by node number, made once: an address holds an array, and a packet step would allocate one.
    var addresses: [Address] = []
    var queue = EventQueue<Step>()
    /// Group id per node; packets only flow within a group. Empty: no partition.
    var partition: [Int: Int] = [:]
    /// Everything each node emitted, for assertions (when `recordsEvents`).
    var events: [Int: [Event]] = [:]
    /// Off for large runs, where `observer` sees what matters and a record of every member event would not fit.
    public var recordsEvents = true
    /// Called with every event any node emits: (node, event, virtual time).
    public var observer: ((Int, Event, Instant) -> Void)?
    public var settings: MemberlistSettings
    public var serfSettings = SerfSettings()

    public init(seed: UInt64, settings: MemberlistSettings = .lan) {
        self.seed = seed
        self.rng = SplitMix64(seed: seed)
        self.settings = settings
    }

    /// `10.0.x.y:7946` for node `i`: distinct, stable addresses, up to 65,536 nodes.
    public static func address(_ i: Int) -> Address {
        Address(ip: [10, 0, UInt8(i / 256), UInt8(i % 256)], port: 7946)
    }

    /// The node number of a simulated address, nil for any other.
    static func number(_ a: Address) -> Int? {
        guard a.ip.count == 4, a.ip[0] == 10, a.ip[1] == 0, a.port == 7946 else { return nil }
        return Int(a.ip[2]) * 256 + Int(a.ip[3])
    }

    public static func name(_ i: Int) -> String { "node-\(i)" }

    // MARK: - Cluster control

    /// Starts node `i` (or restarts it with a fresh state under the same name and address).
    public func start(_ i: Int, tags: [String: String] = [:]) {
        let instance = Instance(
            name: Self.name(i), address: Self.address(i), tags: tags, settings: settings, serfSettings: serfSettings,
            seed: rng.next())
        install(instance, as: i)
        apply(nodes[i]!.instance.start(at: now), at: i)
    }

    /// Starts nodes 0..<n as a cluster that converged long ago: every node an alive member of every other's view,
    /// nothing left to gossip. The views share storage (``Instance/replica(name:address:seed:)``), so 10,000 nodes
    /// fit in memory where 10,000 joins would not fit in a day.
    public func startConverged(_ n: Int, tags: [String: String] = [:]) {
        var template = Instance(
            name: Self.name(0), address: Self.address(0), tags: tags, settings: settings, serfSettings: serfSettings,
            seed: rng.next())
        _ = template.start(at: now)  // its own timers come with resume below
        template.assumeConverged(with: (1..<max(n, 1)).map { (Self.name($0), Self.address($0)) })
        for i in 0..<n {
            install(i == 0 ? template : template.replica(name: Self.name(i), address: Self.address(i), seed: rng.next()), as: i)
        }
        for i in 0..<n { apply(nodes[i]!.instance.resume(at: now), at: i) }
    }

    private func install(_ instance: Instance, as i: Int) {
        while addresses.count <= i { addresses.append(Self.address(addresses.count)) }
        if i >= nodes.count { nodes.append(contentsOf: repeatElement(nil, count: i + 1 - nodes.count)) }
        nodes[i] = SimNode(instance: instance, life: (nodes[i]?.life ?? 0) + 1)
    }

    /// Asks node `i` to join through node `seed`.
    public func join(_ i: Int, via other: Int) {
        input(.command(.join([Self.address(other)], replay: false, id: UInt64(i))), to: i)
    }

    /// Stops node `i` abruptly, as kill -9 would.
    public func kill(_ i: Int) { if i < nodes.count { nodes[i]?.running = false } }

    public func leave(_ i: Int) { input(.command(.leave), to: i) }

    public func command(_ c: Command, to i: Int) { input(.command(c), to: i) }

    /// Splits the cluster: nodes in different groups cannot exchange anything.
    public func partition(_ groups: [[Int]]) {
        partition = [:]
        for (g, members) in groups.enumerated() { for i in members { partition[i] = g } }
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

    func node(_ i: Int) -> SimNode? { i >= 0 && i < nodes.count ? nodes[i] : nil }

    public func instance(_ i: Int) -> Instance? { node(i)?.instance }

    public func isRunning(_ i: Int) -> Bool { node(i)?.running ?? false }

    /// What running node `i` believes about `other`.
    public func status(of other: Int, seenBy i: Int) -> MemberStatus? {
        instance(i)?.member(named: Self.name(other))?.status
    }

    public func events(of i: Int) -> [Event] { events[i] ?? [] }

    public var runningNodes: [Int] { nodes.indices.filter { nodes[$0]?.running == true } }

    // MARK: - Effect interpretation

    func input(_ input: Input, to i: Int) {
        guard node(i)?.running == true else { return }
        let effects = nodes[i]!.instance.handle(input, at: now)
        apply(effects, at: i)
    }

    func apply(_ effects: [Effect], at i: Int) {
        for effect in effects.map(\.encodedNow) {
            switch effect {
            case .send(let bytes, let to):
                packetsSent += 1
                bytesSent += bytes.count
                guard let to = Self.number(to), reachable(i, to), !chance(network.loss) else { continue }
                queue.push(.packet(bytes, to: to, from: i), at: now + delay())
                if chance(network.duplication) { queue.push(.packet(bytes, to: to, from: i), at: now + delay()) }
            case .openStream(let id, let to, let payload, let expectsReply, let timeout):
                bytesSent += payload.count
                let target = Self.number(to)
                let up = target.map(isRunning) ?? false
                if let target, up, reachable(i, target) {
                    queue.push(.streamOpen(id, payload: payload, to: target, from: i, expectsReply: expectsReply), at: now + delay())
                } else if expectsReply {
                    let failure = StreamFailure(up ? "i/o timeout" : "connection refused")
                    queue.push(.streamReply(id, .failure(failure), to: i), at: up ? now + timeout : now + delay())
                }
            case .replyStream(let local, let payload):
                guard let (opener, id) = nodes[i]?.inbound.removeValue(forKey: local), let payload else { continue }
                bytesSent += payload.count
                let result: Result<[UInt8], StreamFailure> =
                    reachable(i, opener) ? .success(payload) : .failure(StreamFailure("i/o timeout"))
                queue.push(.streamReply(id, result, to: opener), at: now + delay())
            case .schedule(let timer, let at):
                queue.push(.timer(timer, node: i, life: nodes[i]?.life ?? 0), at: at)
            case .emit(let event):
                if recordsEvents { events[i, default: []].append(event) }
                observer?(i, event, now)
            case .openStreamState, .replyStreamState:
                break  // encoded above
            }
        }
    }

    func perform(_ step: Step) {
        switch step {
        case .packet(let bytes, let to, let from):
            input(.packet(bytes, from: addresses[from]), to: to)
        case .timer(let timer, let i, let life):
            guard node(i)?.life == life else { return }
            input(.timer(timer), to: i)
        case .streamOpen(let id, let payload, let to, let from, let expectsReply):
            guard isRunning(to) else {
                if expectsReply { queue.push(.streamReply(id, .failure(StreamFailure("connection refused")), to: from), at: now) }
                return
            }
            nodes[to]!.nextInbound += 1
            let local = StreamID(nodes[to]!.nextInbound)
            if expectsReply { nodes[to]!.inbound[local] = (from, id) }
            input(.stream(local, payload: payload, from: addresses[from]), to: to)
        case .streamReply(let id, let result, let to):
            input(.streamReply(id, result), to: to)
        }
    }

    func reachable(_ a: Int, _ b: Int) -> Bool {
        guard !partition.isEmpty else { return true }
        return partition[a] == partition[b]
    }

    func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &rng) < p }

    func delay() -> Duration {
        let lo = network.minDelay.nanoseconds, hi = network.maxDelay.nanoseconds
        return .nanoseconds(hi > lo ? Int64.random(in: lo...hi, using: &rng) : lo)
    }
}
