/// What the container action needs from the agent that runs it.
public protocol ContainerHost: Sendable {
    /// This node's name (the `io.rumor.node` label).
    var nodeName: String { get }
    /// Sets (value) or deletes (nil) tags of this node, gossiped at once; throws when they do not fit in the
    /// 512 bytes of member meta.
    func setTags(_ changes: [String: String?]) async throws
    /// Runs event handlers for a container lifecycle event.
    func fire(_ event: ContainerEvent)
    /// The apps deployed cluster-wide (`rumor apps deploy`): name → spec JSON, empty when stopped cluster-wide.
    func clusterApps() async -> [String: [UInt8]]
    /// Calls `listener` whenever those change.
    func onClusterAppsChange(_ listener: @escaping @Sendable () -> Void)
}

extension ContainerHost {
    /// A host without cluster-wide specs: only the apps directory.
    public func clusterApps() async -> [String: [UInt8]] { [:] }
    public func onClusterAppsChange(_ listener: @escaping @Sendable () -> Void) {}
}

/// A container lifecycle event for handler scripts: `SERF_EVENT` is the type, the rest is environment.
public struct ContainerEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case start = "container-start"
        case healthy = "container-healthy"
        case unhealthy = "container-unhealthy"
        case exit = "container-exit"
        case replaced = "container-replaced"
    }

    public var kind: Kind
    public var app: String
    public var container: String
    public var containerID: String
    public var slot: Int
    public var exitCode: Int?

    public init(kind: Kind, app: String, container: String, containerID: String, slot: Int, exitCode: Int? = nil) {
        self.kind = kind
        self.app = app
        self.container = container
        self.containerID = containerID
        self.slot = slot
        self.exitCode = exitCode
    }

    /// The handler's environment besides `SERF_EVENT`.
    public var environment: [String: String] {
        var env = ["RUMOR_APP": app, "RUMOR_CONTAINER": container, "RUMOR_CONTAINER_ID": containerID, "RUMOR_SLOT": "\(slot)"]
        if let exitCode { env["RUMOR_EXIT_CODE"] = "\(exitCode)" }
        return env
    }
}
