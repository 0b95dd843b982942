import RumorSupport

extension AppSpec {
    /// What a container is made from, in a canonical form: two specs with the same template make the same
    /// container, so a running container whose label differs from this hash is out of date.
    public var template: JSON {
        var pairs: [(String, JSON)] = [
            ("docker_image", .string(image)),
            ("env_vars", .strings(env)),
            ("starting_ports", .array(ports.map { .array([.number(Double($0.firstHostPort)), .number(Double($0.containerPort))]) })),
            ("volumes", .array(volumes.map(JSON.string))),
            ("networks", .array(networks.map(JSON.string))),
            ("devices", .array(devices.map(JSON.string))),
            ("privileged", .bool(privileged)),
            ("host_ip", .string(hostIP)),
        ]
        if let command { pairs.append(("command", .array(command.map(JSON.string)))) }
        if let h = healthcheck {
            pairs.append(("healthcheck", .array([
                .string(h.command), .string(GoDuration.format(h.interval)), .string(GoDuration.format(h.timeout)),
                .number(Double(h.retries)), .string(GoDuration.format(h.startPeriod)),
            ])))
        }
        return .object(pairs)
    }

    /// 16 hex digits (FNV-1a 64 of the canonical template): the `io.rumor.spec` label.
    public var templateHash: String { StableHash.hex(StableHash.fnv1a(template.serialized())) }
}
