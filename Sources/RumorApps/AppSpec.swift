/// One app as its spec file describes it: Nebula's keys (`docker_image`, `containers_per`, `starting_ports`,
/// `env_vars`, `volumes`, `networks`, `devices`, `privileged`, `running`) plus where it runs, how its health is
/// judged, how restarts back off and how it is advertised.
public struct AppSpec: Sendable, Equatable {
    public var name: String
    public var image: String
    public var containersPer: ContainersPer = .server(1)
    public var ports: [PortMapping] = []
    public var env: [String: String] = [:]
    public var volumes: [String] = []
    public var networks: [String] = []
    public var devices: [String] = []
    public var privileged = false
    /// `false` keeps the spec but runs no container (Nebula's stop).
    public var running = true
    public var command: [String]?
    /// Tag name → regular expression a node's tag must contain a match of (Serf's filter semantics); empty: every
    /// node that has the spec.
    public var placement: [String: String] = [:]
    public var healthcheck: Healthcheck?
    public var restart = RestartPolicy()
    /// SIGTERM → SIGKILL.
    public var stopGrace: Duration = Self.defaultStopGrace
    /// `stop_grace` when the spec does not say (also for a container whose app's spec is gone).
    public static let defaultStopGrace: Duration = .seconds(10)
    /// How long a container is out of the load balancer before it is stopped.
    public var drain: Duration = .seconds(2)
    /// Swarm's update delay: during a roll, the next container is replaced only once every other one has been
    /// ready this long (load balancers run their own checks before they send traffic to a new server).
    public var updateDelay: Duration = .seconds(3)
    /// How a new version rolls across the cluster (`update` keys besides `delay`).
    public var update = UpdatePolicy()
    /// `replicas`: this many containers spread evenly across every matching node (slots 1...N, ReplicaPlacement),
    /// instead of `containers_per` on each node. nil: `containers_per`.
    public var replicas: Int?
    /// With `replicas`: no node runs more than this many (nil: no limit beyond the even spread).
    public var maxPerNode: Int?
    /// A node that joined (or came back) takes new replicas only after being alive this long, so flaps do not
    /// churn containers.
    public var stableAfter: Duration = .seconds(10)
    /// A failed node's replicas start elsewhere only after it has been failed this long.
    public var lostAfter: Duration = .seconds(30)
    /// `true`: replicas move, one at a time, to nodes that join (Swarm never does: `false` by default).
    public var rebalance = false
    public var advertise: Advertise = .host
    /// Address host ports bind to ("" = all).
    public var hostIP = ""

    public init(name: String, image: String) {
        self.name = name
        self.image = image
    }

    public enum ContainersPer: Sendable, Equatable {
        case server(Int)
        /// Per CPU core of the node.
        case cpu(Int)
        /// One per this many MiB of the node's memory.
        case memory(Int)
    }

    /// `{"81": "80"}`: host ports 81, 82, ... (one per container) for container port 80.
    public struct PortMapping: Sendable, Equatable {
        public var firstHostPort: Int
        public var containerPort: Int
        public init(firstHostPort: Int, containerPort: Int) {
            self.firstHostPort = firstHostPort
            self.containerPort = containerPort
        }
    }

    public struct Healthcheck: Sendable, Equatable {
        public var command: String
        public var interval: Duration = .seconds(2)
        public var timeout: Duration = .seconds(2)
        public var retries = 2
        public var startPeriod: Duration = .zero
        public init(command: String) { self.command = command }
    }

    /// Swarm's restart policy keys; the delay doubles per failure up to `maxDelay`.
    public struct RestartPolicy: Sendable, Equatable {
        public var delay: Duration = .seconds(1)
        public var maxDelay: Duration = .seconds(60)
        /// Failures within `window` after which the slot stops restarting (0: never give up).
        public var maxAttempts = 0
        /// Running this long without failing forgives past failures (Docker resets its own back-off after 10 s).
        public var window: Duration = .seconds(10)
        public init() {}
    }

    /// Swarm's `update_config`: nodes take a new version in waves of `parallelism`; the next wave starts once the
    /// previous one has been healthy for `monitor`; a failure, or no progress for `progressDeadline`, ends the
    /// rollout with `failureAction`.
    public struct UpdatePolicy: Sendable, Equatable {
        public enum FailureAction: String, Sendable, Equatable, CaseIterable {
            /// Go back to the previous version everywhere.
            case rollback
            /// Stop where it is: updated nodes stay updated, the others wait for the next deploy.
            case pause
            /// Ignore the failure and go on with the next wave.
            case `continue`
        }

        /// Swarm's `update_config.order`: whether a slot's new container starts before its old one stops.
        public enum Order: String, Sendable, Equatable, CaseIterable {
            /// Withdraw and stop the old container, then start the new one (Swarm's default).
            case stopFirst = "stop-first"
            /// Start the new container beside the old one; the old one is withdrawn and stopped once the new one
            /// is ready, so capacity never drops during a roll. Needs no host ports (two containers of a slot
            /// would both bind the slot's port).
            case startFirst = "start-first"
        }

        public var parallelism = 1
        public var order = Order.stopFirst
        public var monitor: Duration = .seconds(5)
        public var failureAction = FailureAction.rollback
        public var progressDeadline: Duration = .seconds(300)
        public init() {}
    }

    public enum Advertise: Sendable, Equatable {
        /// The node's address and the host port.
        case host
        /// The container's address on this Docker network, and `port` (default: the first mapping's container
        /// port), so an app on a private network needs no host ports at all.
        case network(String, port: Int? = nil)
    }

    /// How many containers this app runs on a node with these resources.
    public func containerCount(cores: Int, memoryMiB: Int) -> Int {
        guard running else { return 0 }
        switch containersPer {
        case .server(let n): return n
        case .cpu(let n): return n * max(1, cores)
        case .memory(let mib): return max(0, memoryMiB / max(1, mib))
        }
    }

    /// Whether each slot's container binds host ports of its own: then no two containers of a slot can run at
    /// once on one engine (no start-first, and a replacement waits until the old container is gone).
    /// (`starting_ports` are published whatever `advertise` says.)
    public var bindsHostPorts: Bool { !ports.isEmpty }

    /// Host ports of the container in `slot` (1-based), one per `starting_ports` entry.
    public func hostPorts(slot: Int) -> [Int] { ports.map { $0.firstHostPort + slot - 1 } }

    /// The port a load balancer sends to: the first mapping's host port, or its container port on a network.
    public func advertisedPort(slot: Int) -> Int? {
        switch advertise {
        case .host: return ports.first.map { $0.firstHostPort + slot - 1 }
        case .network(_, let port): return port ?? ports.first?.containerPort
        }
    }

    /// The slot's name (below), or while a container of that name still exists (a start-first roll, or an old
    /// container still stopping), the first of `-2`, `-3`, ... that no existing container has. The slot itself
    /// is read from the `io.rumor.slot` label, never from the name.
    public func containerName(slot: Int, node: String, taken: Set<String>) -> String {
        let base = containerName(slot: slot, node: node)
        guard taken.contains(base) else { return base }
        return (2...).lazy.map { "\(base)-\($0)" }.first { !taken.contains($0) }!
    }

    /// `rumor-<app>-<node>-<slot>`. Container names are the engine's, and several Rumor nodes may share one engine
    /// (workers in containers next to each other, as in the compose scenario), so the node is part of the name;
    /// characters Docker refuses in a name become `_`.
    public func containerName(slot: Int, node: String) -> String { Self.containerName(app: name, slot: slot, node: node) }

    public static func containerName(app name: String, slot: Int, node: String) -> String {
        let safe = String(node.unicodeScalars.map { c -> Character in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == ".")
                ? Character(c) : "_"
        })
        return "rumor-\(name)-\(safe)-\(slot)"
    }
}
