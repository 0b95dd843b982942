/// A container of this node's app as the engine last reported it: the reconciler's view of "actual".
public struct ObservedContainer: Sendable, Equatable {
    public enum Health: String, Sendable, Equatable {
        case none, starting, healthy, unhealthy
    }

    public var id: String
    public var name: String
    /// From the `io.rumor.slot` label; nil when unreadable (such a container is removed).
    public var slot: Int?
    /// The `io.rumor.spec` label.
    public var templateHash: String
    public var running: Bool
    /// Docker's status word (`created`, `running`, `exited`, `dead`, ...).
    public var status: String
    public var health: Health
    public var exitCode: Int
    /// Docker's reason for a failed start ("port is already allocated").
    public var error: String
    /// Container address per Docker network.
    public var addresses: [String: String]
    /// How often its health check runs (nil: none).
    public var healthInterval: Duration?

    public init(id: String, name: String, slot: Int?, templateHash: String, running: Bool, status: String,
                health: Health = .none, exitCode: Int = 0, error: String = "", addresses: [String: String] = [:]) {
        self.id = id
        self.name = name
        self.slot = slot
        self.templateHash = templateHash
        self.running = running
        self.status = status
        self.health = health
        self.exitCode = exitCode
        self.error = error
        self.addresses = addresses
    }

    /// Running and, if it has a health check, passing it: the only state a load balancer may send traffic to.
    public var isReady: Bool { running && (health == .healthy || health == .none) }

    /// Stopped for good (not starting, not restarting): a failure to count and replace.
    public var hasFailed: Bool { !running && ["exited", "dead", "created"].contains(status) }
}

/// Where a load balancer reaches one ready container.
public struct Endpoint: Sendable, Equatable, Hashable {
    public var slot: Int
    /// nil: the node's own address (host ports).
    public var host: String?
    public var port: Int

    public init(slot: Int, host: String?, port: Int) {
        self.slot = slot
        self.host = host
        self.port = port
    }
}
