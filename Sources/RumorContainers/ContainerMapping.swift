import RumorApps
import RumorDocker

/// Rumor's labels on the containers it creates: it lists by them and touches nothing without them.
public enum RumorLabel {
    public static let app = "io.rumor.app"
    public static let node = "io.rumor.node"
    public static let spec = "io.rumor.spec"
    public static let slot = "io.rumor.slot"
}

extension AppSpec {
    /// The create body for `slot` on `node`.
    func containerConfig(slot: Int, node: String) -> ContainerConfig {
        var config = ContainerConfig(image: image)
        config.command = command
        config.env = env
        config.env["RUMOR_APP"] = name
        config.env["RUMOR_SLOT"] = "\(slot)"
        config.env["RUMOR_NODE"] = node
        config.labels = [
            RumorLabel.app: name, RumorLabel.node: node, RumorLabel.spec: templateHash, RumorLabel.slot: "\(slot)",
        ]
        config.ports = ports.map {
            ContainerConfig.PortBinding(containerPort: $0.containerPort, hostPort: $0.firstHostPort + slot - 1, hostIP: hostIP)
        }
        config.binds = volumes
        config.devices = devices
        config.networks = networks
        config.privileged = privileged
        if let h = healthcheck {
            config.healthcheck = ContainerConfig.Healthcheck(
                command: h.command, interval: h.interval, timeout: h.timeout, retries: h.retries, startPeriod: h.startPeriod)
        }
        return config
    }
}

extension ObservedContainer {
    init(_ d: ContainerDetails) {
        self.init(
            id: d.id, name: d.name, slot: d.labels[RumorLabel.slot].flatMap { Int($0) },
            templateHash: d.labels[RumorLabel.spec] ?? "", running: d.running, status: d.status,
            health: d.health.flatMap(Health.init(rawValue:)) ?? .none, exitCode: d.exitCode, error: d.error,
            addresses: d.addresses)
        healthInterval = d.healthInterval
    }
}
