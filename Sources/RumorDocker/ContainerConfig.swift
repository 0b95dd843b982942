import NIOCore
import RumorSupport

/// The body of `POST /containers/create`: only what Rumor sets.
public struct ContainerConfig: Sendable, Equatable {
    public struct PortBinding: Sendable, Equatable {
        public var containerPort: Int
        public var hostPort: Int
        public var hostIP: String
        public init(containerPort: Int, hostPort: Int, hostIP: String = "") {
            (self.containerPort, self.hostPort, self.hostIP) = (containerPort, hostPort, hostIP)
        }
    }

    public struct Healthcheck: Sendable, Equatable {
        /// Run by the container's shell (`CMD-SHELL`).
        public var command: String
        public var interval: Duration
        public var timeout: Duration
        public var retries: Int
        public var startPeriod: Duration
        public init(command: String, interval: Duration, timeout: Duration, retries: Int, startPeriod: Duration) {
            (self.command, self.interval, self.timeout, self.retries, self.startPeriod) =
                (command, interval, timeout, retries, startPeriod)
        }
    }

    public var image: String
    public var command: [String]?
    public var env: [String: String] = [:]
    public var labels: [String: String] = [:]
    public var ports: [PortBinding] = []
    /// `host:container[:mode]`, as `docker run -v`.
    public var binds: [String] = []
    /// `host[:container[:permissions]]`, as `docker run --device`.
    public var devices: [String] = []
    /// The first is joined at create, the others connected after it (API 1.41 takes one at create).
    public var networks: [String] = []
    public var privileged = false
    public var healthcheck: Healthcheck?

    public init(image: String) { self.image = image }

    public var json: JSON {
        var config: [(String, JSON)] = [
            ("Image", .string(image)),
            ("Env", .array(env.sorted { $0.key < $1.key }.map { .string("\($0.key)=\($0.value)") })),
            ("Labels", .strings(labels)),
        ]
        if let command { config.append(("Cmd", .array(command.map(JSON.string)))) }
        if !ports.isEmpty {
            config.append(("ExposedPorts", .object(ports.map { ("\($0.containerPort)/tcp", .object([])) })))
        }
        if let h = healthcheck {
            config.append(("Healthcheck", .object([
                ("Test", .array([.string("CMD-SHELL"), .string(h.command)])),
                ("Interval", .number(Double(TimeAmount(h.interval).nanoseconds))),
                ("Timeout", .number(Double(TimeAmount(h.timeout).nanoseconds))),
                ("Retries", .number(Double(h.retries))),
                ("StartPeriod", .number(Double(TimeAmount(h.startPeriod).nanoseconds))),
            ])))
        }
        var bindings: [(String, JSON)] = []
        for p in ports {
            bindings.append(("\(p.containerPort)/tcp", .array([.object([
                ("HostIp", .string(p.hostIP)), ("HostPort", .string("\(p.hostPort)")),
            ])])))
        }
        var host: [(String, JSON)] = [
            ("PortBindings", .object(bindings)),
            ("Binds", .array(binds.map(JSON.string))),
            ("Devices", .array(devices.map(Self.device))),
            ("Privileged", .bool(privileged)),
            // Rumor restarts containers itself, with back-off and health; the engine's policy would race it.
            ("RestartPolicy", .object([("Name", .string("no"))])),
        ]
        if let first = networks.first {
            host.append(("NetworkMode", .string(first)))
            config.append(("NetworkingConfig", .object([("EndpointsConfig", .object([(first, .object([]))]))])))
        }
        config.append(("HostConfig", .object(host)))
        return .object(config)
    }

    private static func device(_ text: String) -> JSON {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        return .object([
            ("PathOnHost", .string(parts[0])),
            ("PathInContainer", .string(parts.count > 1 ? parts[1] : parts[0])),
            ("CgroupPermissions", .string(parts.count > 2 ? parts[2] : "rwm")),
        ])
    }
}
