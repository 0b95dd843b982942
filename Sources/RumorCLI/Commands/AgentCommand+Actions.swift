import RumorSupport
import Logging
import NIOCore
import RumorActions
import RumorAgent
import RumorContainers
import RumorCore
#if canImport(Glibc)
import Glibc
#endif

extension AgentCommand {
    /// The HAProxy action from `actions.haproxy` in the config files, overridden by the `--haproxy-*` flags; nil
    /// when neither asks for one.
    func haproxyConfiguration(_ config: AgentConfiguration) throws -> HAProxyActionConfiguration? {
        var result: HAProxyActionConfiguration?
        if let json = config.actions {
            guard case .object(let pairs) = json else {
                throw ConfigurationError("actions: expected an object such as {\"haproxy\": {...}}")
            }
            for (name, _) in pairs where name != "haproxy" {
                throw ConfigurationError("actions: unknown action '\(name)' (available: haproxy)")
            }
            if let haproxy = json["haproxy"] { result = try HAProxyActionConfiguration(json: ActionConfigValue(haproxy)) }
        }
        if let output = config.haproxyOutput {
            if result == nil { result = HAProxyActionConfiguration() }
            result?.output = output
        }
        if let app = config.haproxyApp {
            guard result != nil else { throw ConfigurationError("--haproxy-app needs --haproxy-config") }
            result?.app = app
            if config.haproxySelectors.isEmpty && config.actions?["haproxy"]?["selector"] == nil { result?.selector = [:] }
        }
        if let template = config.haproxyTemplate {
            guard result != nil else { throw ConfigurationError("--haproxy-template needs --haproxy-config") }
            result?.template = template
        }
        if !config.haproxySelectors.isEmpty {
            guard result != nil else { throw ConfigurationError("--haproxy-selector needs --haproxy-config") }
            result?.selector = try HAProxyActionConfiguration.selector(fromFlags: config.haproxySelectors)
        }
        try result?.validate()
        return result
    }

    /// Feeds member snapshots to the action on every membership change, and runs it until the agent stops.
    static func run(_ action: HAProxyAction, with agent: Agent) async throws {
        agent.eventLoop.execute {
            _ = agent.addListener(token: { event in
                switch event {
                case .memberJoined, .memberLeft, .memberFailed, .memberUpdated, .memberReaped:
                    action.membersChanged(agent.members())
                default: break
                }
            })
            action.membersChanged(agent.members())
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await action.run() }
            try? await agent.stopped.get()
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

extension ActionConfigValue {
    /// The agent's parsed JSON, as the actions' configuration value.
    init(_ json: JSON) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = .number(n)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(ActionConfigValue.init))
        case .object(let pairs): self = .object(Dictionary(pairs.map { ($0.0, ActionConfigValue($0.1)) }) { $1 })
        }
    }
}

/// The agent as the container action sees it: tags it owns, and handler events.
struct AgentContainerHost: ContainerHost {
    let agent: Agent
    var nodeName: String { agent.name }

    func setTags(_ changes: [String: String?]) async throws {
        try await agent.updateActionTags(changes).get()
    }

    func fire(_ event: ContainerEvent) {
        agent.fireActionEvent(type: event.kind.rawValue, environment: event.environment)
    }
}

extension AgentCommand {
    static func containerAction(appsDir: String, agent: Agent, logger: Logger) throws -> ContainerAction {
        var config = ContainerActionConfiguration(appsDir: appsDir)
        config.dockerHost = getenv("DOCKER_HOST").map { String(cString: $0) }
        config.registryAuth = getenv("RUMOR_REGISTRY_AUTH").map { String(cString: $0) }
        let action = ContainerAction(configuration: config, host: AgentContainerHost(agent: agent), logger: logger)
        do { try action.preflight() } catch { throw ConfigurationError("apps_dir: \(error)") }
        agent.setAppsProvider { op, name in
            let all = action.status()
            switch op {
            case "ls": return all.serialized()
            case "inspect":
                guard let app = all.arrayValue?.first(where: { $0["app"]?.stringValue == name }) else {
                    throw CommandError("no app named '\(name)' on this node")
                }
                return app.serialized(indent: 2)
            default: throw CommandError("unknown apps operation '\(op)' (ls, inspect)")
            }
        }
        return action
    }

    /// Feeds membership to the container action (placement reads this node's tags) and runs it until the agent stops.
    static func run(_ action: ContainerAction, with agent: Agent) async {
        agent.eventLoop.execute {
            _ = agent.addListener(token: { event in
                switch event {
                case .memberJoined, .memberUpdated: action.membersChanged(agent.members())
                default: break
                }
            })
            action.membersChanged(agent.members())
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await action.run() }
            try? await agent.stopped.get()
            group.cancelAll()
        }
    }
}
