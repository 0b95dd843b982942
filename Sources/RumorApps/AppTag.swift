import RumorSupport

/// How a node advertises its ready containers of one app in its Serf tags, so any load balancer in the cluster
/// can route to them: key `app:<name>`, value one token per endpoint, space separated: `<slot>/<port>` (the
/// node's own address) or `<slot>/<ip>:<port>` (a container address on a Docker network). Compact because all
/// of a node's tags share memberlist's 512-byte meta.
public enum AppTag {
    public static let prefix = "app:"
    /// Carried by every node that runs apps (`--apps-dir`; its value is the agent's digest of the cluster's specs):
    /// `replicas` are placed over these nodes only, never on a load balancer that merely holds the specs.
    public static let runnerKey = "rumor:apps"

    public static func key(app: String) -> String { prefix + app }

    public static func value(_ endpoints: [Endpoint]) -> String {
        endpoints.sorted { $0.slot < $1.slot }.map { e in
            e.host.map { "\(e.slot)/\(HostPort(host: $0, port: e.port))" } ?? "\(e.slot)/\(e.port)"
        }.joined(separator: " ")
    }

    /// The endpoints in a tag value; unreadable tokens are skipped and returned as `rejected`, so one bad token
    /// from a peer cannot hide the others.
    public static func parse(_ value: String) -> (endpoints: [Endpoint], rejected: [String]) {
        var endpoints: [Endpoint] = []
        var rejected: [String] = []
        for token in value.split(separator: " ") {
            guard let slash = token.firstIndex(of: "/"), let slot = Int(token[..<slash]), slot > 0 else {
                rejected.append(String(token))
                continue
            }
            let rest = String(token[token.index(after: slash)...])
            // `<port>` (the node's own address) or `<host>:<port>` / `[v6]:<port>` (HostPort's one parser).
            let parsed = rest.contains(":") || rest.hasPrefix("[")
                ? (try? HostPort.parse(rest, defaultPort: 0, what: "endpoint")).map { (String?.some($0.host), $0.port) }
                : Int(rest).map { (String?.none, $0) }
            guard let (host, port) = parsed, (1...65535).contains(port) else {
                rejected.append(String(token))
                continue
            }
            endpoints.append(Endpoint(slot: slot, host: host, port: port))
        }
        return (endpoints, rejected)
    }
}

/// How a node tells rolling deploys what it runs of an app: key `run:<name>`, value `<template hash> <state>`,
/// state `1` (every slot ready on that spec), `0` (not yet), `f` (its containers keep failing) or `x <rule>` (this
/// node's `apps_allow` refused the spec: no container was made); `- 0` while a stopped app's containers are being
/// removed. About 20 bytes.
public enum RunTag {
    public enum State: String, Sendable {
        case converged = "1"
        case progressing = "0"
        case failed = "f"
        case refused = "x"
    }

    public static func key(app: String) -> String { "run:" + app }

    public static func value(templateHash: String, state: State, rule: String = "") -> String {
        state == .refused ? "\(templateHash) \(state.rawValue) \(rule.isEmpty ? "-" : rule)" : "\(templateHash) \(state.rawValue)"
    }

    /// nil for a value that is not `<hash> <state>` or `<hash> x <rule>` (a peer's tag is untrusted).
    public static func parse(_ value: String) -> (templateHash: String, state: State, rule: String)? {
        let parts = value.split(separator: " ")
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, let state = State(rawValue: String(parts[1])),
            (parts.count == 3) == (state == .refused)
        else { return nil }
        return (String(parts[0]), state, parts.count == 3 ? String(parts[2].prefix(32)) : "")
    }
}
