import NIOCore

/// What the container action needs of a container engine, Nomad's driver interface in small: Docker's Engine API
/// through ``DockerClient``, or an in-memory engine in tests. Errors are ``DockerError``s: `isNotFound` and
/// `isEngineDown` are what the action decides on, and the engine's own message reaches the user.
public protocol ContainerEngine: Sendable {
    /// "Docker engine API 1.41 at /var/run/docker.sock", for the log.
    var summary: String { get }
    func resources() async throws -> (cores: Int, memoryMiB: Int)
    func listContainers(labels: [String]) async throws -> [ContainerSummary]
    func inspect(_ id: String) async throws -> ContainerDetails
    /// The new container's id.
    func create(name: String, _ config: ContainerConfig) async throws -> String
    func start(_ id: String) async throws
    /// SIGTERM, then SIGKILL after `grace`.
    func stop(_ id: String, grace: Duration) async throws
    func remove(_ id: String) async throws
    /// nil when the image is not there.
    func imageID(_ reference: String) async throws -> String?
    func pull(_ reference: String, registryAuth: String?) async throws
    /// Container events for containers carrying `label`, until the engine goes away (throws) or the task is
    /// cancelled; `opened` runs once the subscription stands, so a list made after it misses nothing.
    func followEvents(label: String, opened: @escaping @Sendable () -> Void,
                      _ handle: @escaping @Sendable (DockerEvent) -> Void) async throws
    /// Whether the engine runs containers' health checks by itself. Docker does; Podman runs them from systemd
    /// timers, so where there is no systemd (a container, a minimal host) nothing runs them and a container stays
    /// `starting` for ever: then the action runs each check through ``runHealthcheck(_:)`` at its interval.
    var runsHealthchecks: Bool { get }
    func runHealthcheck(_ id: String) async throws
}

extension ContainerEngine {
    public var runsHealthchecks: Bool { true }
    public func runHealthcheck(_ id: String) async throws {}
}

extension DockerClient: ContainerEngine {
    public var summary: String {
        libpodVersion.map { "Podman \($0) (Docker API \(apiVersion)) at \(http.socketPath)" }
            ?? "Docker engine API \(apiVersion) at \(http.socketPath)"
    }
    public var runsHealthchecks: Bool { libpodVersion == nil }
}

/// How an action reaches its engine: `check` before the agent starts (so a bad setting stops start-up with a clear
/// error), `connect` at start and after every time the engine went away.
public struct EngineConnector: Sendable {
    public var check: @Sendable () throws -> Void
    public var connect: @Sendable () async throws -> any ContainerEngine

    public init(check: @escaping @Sendable () throws -> Void = {}, connect: @escaping @Sendable () async throws -> any ContainerEngine) {
        self.check = check
        self.connect = connect
    }

    /// Docker's Engine API at `DOCKER_HOST` (`unix:///path`; nil: /var/run/docker.sock).
    public static func docker(host: String?, group: any EventLoopGroup) -> EngineConnector {
        EngineConnector(check: { _ = try DockerClient.socketPath(dockerHost: host) }) {
            try await DockerClient.connect(socketPath: try DockerClient.socketPath(dockerHost: host), group: group)
        }
    }
}
