import RumorApps

/// A pure model of a cluster running one `replicas` app, for acceptance tests of ``ReplicaPlacement``: each node
/// sees the others through its own view (failures and joins reach each observer after its own seeded delay, up to
/// `maxDetection`), computes the placement from that view, starts the slots it is given (ready `startDelay` later)
/// and drops the others. Nodes advertise their ready slots; a killed node's last advertisement stays in the views,
/// as its tags do in Serf. A node computes again only when its view or the advertisements changed or its result's
/// `recheckAt` has come, as the agent's driver does. Time moves in fixed steps; nothing sleeps.
struct PlacementWorld {
    struct Node {
        var id: Int
        var name: String
        /// What the others see, in time order: (when, status). A flap changes this, not `running`.
        var perceived: [(at: Duration, status: PlacementMember.Status)]
        /// The agent and its containers really run.
        var running = true
        /// Slot → when its container is ready.
        var containers: [Int: Duration] = [:]
        /// The ready slots its tags advertise (frozen when it dies).
        var advertised: Set<Int> = []
        /// What it last computed from.
        var lastView: [PlacementMember] = []
        var lastResult: ReplicaPlacement.Result?
    }

    var settings: ReplicaPlacement.Settings {
        didSet { for id in nodes.keys { nodes[id]!.lastResult = nil } }
    }
    var now: Duration = .zero
    var nodes: [Int: Node] = [:]
    private var lastReady: [Int: Set<String>] = [:]
    /// Placements computed so far, cluster-wide.
    var computations = 0
    var startDelay: Duration = .seconds(2)
    var maxDetection: Duration = .seconds(3)
    let seed: UInt64
    /// Each running node's last result, from its own view.
    var results: [String: ReplicaPlacement.Result] = [:]
    /// Containers started and removed so far, cluster-wide.
    var starts = 0
    var removals = 0

    init(settings: ReplicaPlacement.Settings, seed: UInt64) {
        self.settings = settings
        self.seed = seed
    }

    static func name(_ i: Int) -> String { "node-\(i)" }
    static let tags = ["role": "worker"]

    /// A deterministic number in 0..<bound from the seed and three numbers.
    func random(_ bound: Int, _ a: Int, _ b: Int = 0, _ c: Int = 0) -> Int {
        Int(StableHash.mix(seed ^ UInt64(a) << 40 ^ UInt64(b) << 16 ^ UInt64(c)) % UInt64(bound))
    }

    mutating func add(_ id: Int, since: Duration) {
        nodes[id] = Node(id: id, name: Self.name(id), perceived: [(since, .alive)])
    }

    mutating func kill(_ id: Int) {
        nodes[id]!.running = false
        nodes[id]!.containers = [:]
        nodes[id]!.perceived.append((now, .failed))
    }

    /// Others see it fail or come back; it keeps running (a flap is a network or load problem, not a crash).
    mutating func perceive(_ id: Int, _ status: PlacementMember.Status) {
        nodes[id]!.perceived.append((now, status))
    }

    /// `observer`'s view: the latest change of each member that has reached it. A node learns its own changes at
    /// once (memberlist makes a suspected node refute, so it knows).
    func view(of observer: Int) -> [PlacementMember] {
        var members: [PlacementMember] = []
        let detection = Int(maxDetection / .milliseconds(1)) + 1
        for id in nodes.keys.sorted() {
            let node = nodes[id]!
            for (k, change) in node.perceived.enumerated().reversed() {
                let delay: Duration = observer == node.id ? .zero : .milliseconds(random(detection, observer, node.id, k))
                guard change.at + delay <= now else { continue }
                members.append(PlacementMember(name: node.name, status: change.status, tags: Self.tags,
                                               since: change.at + delay))
                break
            }
        }
        return members
    }

    /// Slot → nodes advertising it ready (what every view's tags say).
    var ready: [Int: Set<String>] {
        var ready: [Int: Set<String>] = [:]
        for node in nodes.values { for slot in node.advertised { ready[slot, default: []].insert(node.name) } }
        return ready
    }

    /// Slots with a ready container on a node that really runs.
    var healthy: Int {
        Set(nodes.values.filter(\.running).flatMap { n in n.containers.filter { $0.value <= now }.keys }).count
    }

    /// Ready containers on running nodes (copies of one slot counted each).
    var readyContainers: Int { nodes.values.filter(\.running).map { n in n.containers.values.filter { $0 <= now }.count }.reduce(0, +) }

    /// Slot → the running nodes with it ready.
    var holders: [Int: Set<String>] {
        var holders: [Int: Set<String>] = [:]
        for node in nodes.values where node.running {
            for (slot, at) in node.containers where at <= now { holders[slot, default: []].insert(node.name) }
        }
        return holders
    }

    /// Every running node computes from its own view and the same advertisements, then acts on its own share.
    mutating func step(_ dt: Duration = .seconds(1)) {
        now += dt
        let ready = self.ready
        let readyChanged = ready != lastReady
        lastReady = ready
        var wanted: [Int: [Int]] = [:]
        results = [:]
        for (id, node) in nodes where node.running {
            let members = view(of: id)
            var result = node.lastResult
            if result == nil || readyChanged || members != node.lastView || result!.recheckAt.map({ now >= $0 }) ?? false {
                result = ReplicaPlacement.compute(settings, members: members, ready: ready, now: now)
                computations += 1
                nodes[id]!.lastView = members
                nodes[id]!.lastResult = result
            }
            results[node.name] = result!
            wanted[id] = result!.slots(of: node.name)
        }
        for (id, slots) in wanted {
            var node = nodes[id]!
            let keep = Set(slots)
            for slot in node.containers.keys where !keep.contains(slot) {
                node.containers[slot] = nil
                removals += 1
            }
            for slot in slots where node.containers[slot] == nil {
                node.containers[slot] = now + startDelay
                starts += 1
            }
            node.advertised = Set(node.containers.filter { $0.value <= now }.keys)
            nodes[id] = node
        }
    }
}
