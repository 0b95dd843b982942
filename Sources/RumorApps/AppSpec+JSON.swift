import RumorSupport

/// A spec file that could not be read; the message names the file and the key.
public struct AppSpecError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension AppSpec {
    static let keys: Set<String> = [
        "app_name", "docker_image", "containers_per", "starting_ports", "env_vars", "volumes", "networks", "devices",
        "privileged", "running", "command", "placement", "healthcheck", "restart", "stop_grace", "drain", "advertise",
        "host_ip", "update", "replicas", "max_per_node", "stable_after", "lost_after", "rebalance",
        // Nebula keys accepted for compatibility and ignored, so an existing Nebula spec parses.
        "rolling_restart", "network_mode",
    ]

    /// App names become container names and tag keys: a DNS label.
    public static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 40 && name.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        } && name.first != "-"
    }

    /// Parses one spec file's text. `file` and `name` (the file's name without `.json`) label every error.
    public static func parse(_ text: String, name: String, file: String) throws(AppSpecError) -> AppSpec {
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw AppSpecError("\(file): not JSON: \(error)") }
        var reader = Reader(file: file)
        return try reader.spec(json, name: name)
    }
}

/// Reads keys with errors that say file, key, what was found and what was expected.
private struct Reader {
    let file: String

    func fail(_ key: String, _ problem: String) -> AppSpecError { AppSpecError("\(file): \(key): \(problem)") }

    func expected(_ key: String, _ what: String, _ got: JSON) -> AppSpecError {
        fail(key, "expected \(what), got \(got.typeName) \(got.preview())")
    }

    func string(_ v: JSON, _ key: String) throws(AppSpecError) -> String {
        guard let s = v.stringValue else { throw expected(key, "a string", v) }
        return s
    }

    func bool(_ v: JSON, _ key: String) throws(AppSpecError) -> Bool {
        guard let b = v.boolValue else { throw expected(key, "true or false", v) }
        return b
    }

    func int(_ v: JSON, _ key: String, _ range: ClosedRange<Int>) throws(AppSpecError) -> Int {
        // Nebula writes numbers as strings in places ("81"), so both spellings are taken.
        guard let n = v.intValue ?? v.stringValue.flatMap({ Int($0) }) else { throw expected(key, "a whole number", v) }
        guard range.contains(n) else { throw fail(key, "\(n) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    func duration(_ v: JSON, _ key: String) throws(AppSpecError) -> Duration {
        guard let text = v.stringValue else { throw expected(key, "a duration such as \"5s\"", v) }
        let d: Duration
        do throws(GoDuration.ParseError) { d = try GoDuration.parse(text) } catch { throw fail(key, error.description) }
        guard d <= .seconds(86400 * 365) else { throw fail(key, "'\(text)' is longer than a year") }
        return d
    }

    func strings(_ v: JSON, _ key: String) throws(AppSpecError) -> [String] {
        guard let items = v.arrayValue else { throw expected(key, "an array of strings", v) }
        var out: [String] = []
        for (i, item) in items.enumerated() { out.append(try string(item, "\(key)[\(i)]")) }
        return out
    }

    func stringMap(_ v: JSON, _ key: String) throws(AppSpecError) -> [String: String] {
        guard let pairs = v.objectValue else { throw expected(key, "an object of strings", v) }
        var out: [String: String] = [:]
        for (k, value) in pairs {
            // env_vars values may be numbers or booleans in Nebula specs; they become their JSON text.
            switch value {
            case .string(let s): out[k] = s
            case .number, .bool: out[k] = value.serialized()
            default: throw expected("\(key).\(k)", "a string", value)
            }
        }
        return out
    }

    func object(_ v: JSON, _ key: String, allowed: Set<String>) throws(AppSpecError) -> [(String, JSON)] {
        guard let pairs = v.objectValue else { throw expected(key, "an object", v) }
        for (k, _) in pairs where !allowed.contains(k) {
            throw fail("\(key).\(k)", "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
        }
        return pairs
    }

    mutating func spec(_ json: JSON, name: String) throws(AppSpecError) -> AppSpec {
        guard let pairs = json.objectValue else { throw AppSpecError("\(file): expected a JSON object, got \(json.typeName)") }
        guard AppSpec.validName(name) else {
            throw AppSpecError("\(file): app name '\(name)' must be 1-40 of a-z, 0-9, '-', '_' (it names containers and tags)")
        }
        for (key, _) in pairs where !AppSpec.keys.contains(key) {
            throw fail(key, "unknown key (known: \(AppSpec.keys.sorted().joined(separator: ", ")))")
        }
        guard let imageValue = json["docker_image"] else { throw fail("docker_image", "missing: which image to run") }
        let image = try string(imageValue, "docker_image")
        guard !image.isEmpty, !image.contains(where: \.isWhitespace) else { throw fail("docker_image", "'\(image)' is not an image reference") }
        var spec = AppSpec(name: name, image: image)
        if let v = json["app_name"], try string(v, "app_name") != name {
            throw fail("app_name", "'\(v.stringValue ?? "")' differs from the file's name '\(name)'")
        }
        if let v = json["containers_per"] { spec.containersPer = try containersPer(v) }
        if let v = json["starting_ports"] { spec.ports = try ports(v) }
        if let v = json["env_vars"] { spec.env = try stringMap(v, "env_vars") }
        if let v = json["volumes"] { spec.volumes = try strings(v, "volumes") }
        if let v = json["networks"] { spec.networks = try strings(v, "networks") }
        if let v = json["devices"] { spec.devices = try strings(v, "devices") }
        if let v = json["privileged"] { spec.privileged = try bool(v, "privileged") }
        if let v = json["running"] { spec.running = try bool(v, "running") }
        if let v = json["command"] { spec.command = try strings(v, "command") }
        if let v = json["placement"] {
            spec.placement = try stringMap(v, "placement")
            for (tag, pattern) in spec.placement {
                do { _ = try Regex(pattern) } catch { throw fail("placement.\(tag)", "'\(pattern)' is not a regular expression: \(error)") }
            }
        }
        if let v = json["healthcheck"] { spec.healthcheck = try healthcheck(v) }
        if let v = json["restart"] { spec.restart = try restart(v) }
        if let v = json["stop_grace"] { spec.stopGrace = try duration(v, "stop_grace") }
        if let v = json["drain"] { spec.drain = try duration(v, "drain") }
        if let v = json["host_ip"] { spec.hostIP = try string(v, "host_ip") }
        if let v = json["update"] { try update(v, into: &spec) }
        try replicas(json, into: &spec)
        if let v = json["advertise"] { spec.advertise = try advertise(v, networks: spec.networks) }
        if spec.update.order == .startFirst, spec.bindsHostPorts {
            // Refused rather than quietly run stop-first: the roll would lose capacity the deploy asked to keep.
            throw fail("update.order", "start-first runs a slot's new container beside its old one, but starting_ports "
                + "gives each slot one host port, which only one container can bind: drop starting_ports and advertise "
                + "the app on a network (\"advertise\": {\"network\": NAME, \"port\": PORT}), or use stop-first")
        }
        for volume in spec.volumes where !volume.contains(":") {
            throw fail("volumes", "'\(volume)' is not host:container[:mode]")
        }
        return spec
    }

    /// `replicas` (cluster-wide) and `containers_per` (per node) are two answers to one question: only one may be given.
    func replicas(_ json: JSON, into spec: inout AppSpec) throws(AppSpecError) {
        if let v = json["replicas"] {
            guard json["containers_per"] == nil else {
                throw fail("replicas", "cannot be combined with containers_per (replicas counts containers across the cluster, containers_per on each node): keep one")
            }
            let n = try int(v, "replicas", 0...10_000)
            spec.replicas = n
            for (i, p) in spec.ports.enumerated() where p.firstHostPort + n - 1 > 65535 {
                throw fail("starting_ports[\(i)]", "host port \(p.firstHostPort) + \(n) replicas passes 65535 (each replica has its own port)")
            }
        }
        if let v = json["max_per_node"] {
            guard spec.replicas != nil else { throw fail("max_per_node", "needs replicas (containers_per already fixes the count on each node)") }
            spec.maxPerNode = try int(v, "max_per_node", 1...1000)
        }
        if let v = json["stable_after"] { spec.stableAfter = try duration(v, "stable_after") }
        if let v = json["lost_after"] { spec.lostAfter = try duration(v, "lost_after") }
        if let v = json["rebalance"] { spec.rebalance = try bool(v, "rebalance") }
    }

    func update(_ v: JSON, into spec: inout AppSpec) throws(AppSpecError) {
        let keys: Set<String> = ["delay", "parallelism", "monitor", "failure_action", "progress_deadline", "order"]
        for (key, value) in try object(v, "update", allowed: keys) {
            switch key {
            case "delay": spec.updateDelay = try duration(value, "update.delay")
            case "parallelism": spec.update.parallelism = try int(value, "update.parallelism", 1...10_000)
            case "monitor": spec.update.monitor = try duration(value, "update.monitor")
            case "order":
                let orders = AppSpec.UpdatePolicy.Order.allCases.map(\.rawValue)
                guard let text = value.stringValue, let order = AppSpec.UpdatePolicy.Order(rawValue: text) else {
                    throw expected("update.order", "one of " + orders.joined(separator: ", "), value)
                }
                spec.update.order = order
            case "progress_deadline":
                spec.update.progressDeadline = try duration(value, "update.progress_deadline")
                guard spec.update.progressDeadline > .zero else { throw fail("update.progress_deadline", "must be more than 0s") }
            default:
                let actions = AppSpec.UpdatePolicy.FailureAction.allCases.map(\.rawValue)
                guard let text = value.stringValue, let action = AppSpec.UpdatePolicy.FailureAction(rawValue: text) else {
                    throw expected("update.failure_action", "one of " + actions.joined(separator: ", "), value)
                }
                spec.update.failureAction = action
            }
        }
    }

    func containersPer(_ v: JSON) throws(AppSpecError) -> AppSpec.ContainersPer {
        let pairs = try object(v, "containers_per", allowed: ["server", "instance", "cpu", "memory"])
        guard pairs.count == 1, let (key, value) = pairs.first else {
            throw fail("containers_per", "expected exactly one of server, instance, cpu, memory")
        }
        switch key {
        case "server", "instance": return .server(try int(value, "containers_per.\(key)", 0...1000))
        case "cpu": return .cpu(try int(value, "containers_per.cpu", 0...1000))
        default: return .memory(try int(value, "containers_per.memory", 1...(1 << 30)))
        }
    }

    func ports(_ v: JSON) throws(AppSpecError) -> [AppSpec.PortMapping] {
        guard let items = v.arrayValue else { throw expected("starting_ports", "an array such as [{\"81\": \"80\"}]", v) }
        var out: [AppSpec.PortMapping] = []
        for (i, item) in items.enumerated() {
            let key = "starting_ports[\(i)]"
            guard let pairs = item.objectValue, pairs.count == 1, let (host, container) = pairs.first else {
                throw expected(key, "one {\"host port\": \"container port\"} pair", item)
            }
            guard let h = Int(host), (1...65535).contains(h) else { throw fail(key, "host port '\(host)' is not 1-65535") }
            out.append(AppSpec.PortMapping(firstHostPort: h, containerPort: try int(container, key, 1...65535)))
        }
        return out
    }

    func healthcheck(_ v: JSON) throws(AppSpecError) -> AppSpec.Healthcheck {
        let pairs = try object(v, "healthcheck", allowed: ["cmd", "interval", "timeout", "retries", "start_period"])
        guard let cmd = v["cmd"] else { throw fail("healthcheck.cmd", "missing: the shell command that exits 0 when healthy") }
        var h = AppSpec.Healthcheck(command: try string(cmd, "healthcheck.cmd"))
        for (key, value) in pairs {
            switch key {
            case "interval": h.interval = try duration(value, "healthcheck.interval")
            case "timeout": h.timeout = try duration(value, "healthcheck.timeout")
            case "retries": h.retries = try int(value, "healthcheck.retries", 1...100)
            case "start_period": h.startPeriod = try duration(value, "healthcheck.start_period")
            default: break
            }
        }
        guard h.interval >= .milliseconds(100) else { throw fail("healthcheck.interval", "must be at least 100ms") }
        return h
    }

    func restart(_ v: JSON) throws(AppSpecError) -> AppSpec.RestartPolicy {
        var r = AppSpec.RestartPolicy()
        for (key, value) in try object(v, "restart", allowed: ["delay", "max_delay", "max_attempts", "window"]) {
            switch key {
            case "delay": r.delay = try duration(value, "restart.delay")
            case "max_delay": r.maxDelay = try duration(value, "restart.max_delay")
            case "max_attempts": r.maxAttempts = try int(value, "restart.max_attempts", 0...1_000_000)
            default: r.window = try duration(value, "restart.window")
            }
        }
        r.maxDelay = max(r.maxDelay, r.delay)
        return r
    }

    func advertise(_ v: JSON, networks: [String]) throws(AppSpecError) -> AppSpec.Advertise {
        switch v {
        case .string("host"): return .host
        case .string("network"):
            guard let first = networks.first else { throw fail("advertise", "\"network\" needs a network in networks") }
            return .network(first)
        case .object:
            _ = try object(v, "advertise", allowed: ["network", "port"])
            guard let name = v["network"] else { throw fail("advertise.network", "missing") }
            var port: Int?
            if let p = v["port"] { port = try int(p, "advertise.port", 1...65535) }
            return .network(try string(name, "advertise.network"), port: port)
        default:
            throw expected("advertise", "\"host\", \"network\" or {\"network\": NAME, \"port\": PORT}", v)
        }
    }
}

extension AppSpec {
    /// A spec's text scaled to `count`: `replicas: N` when it has replicas, else `containers_per: {"server": N}`.
    public static func scaled(_ text: String, to count: Int) throws(AppSpecError) -> String {
        let parsed: JSON
        do { parsed = try JSON.parse(text) } catch { throw AppSpecError("scale: the deployed spec is not JSON: \(error)") }
        guard case .object(var pairs) = parsed else { throw AppSpecError("scale: the deployed spec is not an object") }
        let key = pairs.contains { $0.0 == "replicas" } ? "replicas" : "containers_per"
        let value: JSON = key == "replicas" ? .number(Double(count)) : .object([("server", .number(Double(count)))])
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return JSON.object(pairs).serialized()
    }
}
