import RumorSupport
import Logging
import NIOCore
import RumorActions
import RumorAgent
import RumorCore

/// A built-in action the agent can run: its key under `"actions"` and how to make it from that section (nil when
/// absent), the command's flags and the agent's configuration. Returns nil when the action is not asked for.
struct BuiltinAction: Sendable {
    var name: String
    var make: @Sendable (_ section: JSON?, _ command: AgentCommand, _ config: AgentConfiguration, _ context: Context)
        throws -> (any AgentAction)?

    struct Context: Sendable {
        var logger: Logger
        var eventLoop: any EventLoop
    }
}

extension BuiltinAction {
    /// Every built-in action. Adding one is a folder in Sources/RumorActions and one line here.
    static let all: [BuiltinAction] = [.haproxy]

    static let haproxy = BuiltinAction(name: "haproxy") { section, command, config, context in
        guard let haproxy = try command.haproxyConfiguration(section) else { return nil }
        return HAProxyAction(
            configuration: haproxy, nodeName: config.resolvedNodeName, logger: context.logger,
            eventLoop: context.eventLoop)
    }
}

extension AgentCommand {
    /// The actions `"actions"` in the config files and the flags ask for, in `BuiltinAction.all` order.
    func configuredActions(_ config: AgentConfiguration, context: BuiltinAction.Context) throws -> [any AgentAction] {
        var sections: [String: JSON] = [:]
        if let json = config.actions {
            guard case .object(let pairs) = json else {
                throw AgentConfiguration.Error("actions: expected an object such as {\"haproxy\": {...}}")
            }
            let names = BuiltinAction.all.map(\.name)
            for (name, section) in pairs {
                guard names.contains(name) else {
                    throw AgentConfiguration.Error(
                        "actions: unknown action '\(name)' (available: \(names.joined(separator: ", ")))")
                }
                sections[name] = section
            }
        }
        return try BuiltinAction.all.compactMap { try $0.make(sections[$0.name], self, config, context) }
    }

    /// The HAProxy action from its `actions.haproxy` section, overridden by the `--haproxy-*` flags; nil when
    /// neither asks for one.
    func haproxyConfiguration(_ section: JSON?) throws -> HAProxyActionConfiguration? {
        var result: HAProxyActionConfiguration?
        if let section { result = try HAProxyActionConfiguration(json: ActionConfigValue(section)) }
        if let output = flags.value("haproxy-config") {
            if result == nil { result = HAProxyActionConfiguration() }
            result?.output = output
        }
        if let template = flags.value("haproxy-template") {
            guard result != nil else { throw AgentConfiguration.Error("--haproxy-template needs --haproxy-config") }
            result?.template = template
        }
        let haproxySelector = flags.values("haproxy-selector")
        if !haproxySelector.isEmpty {
            guard result != nil else { throw AgentConfiguration.Error("--haproxy-selector needs --haproxy-config") }
            result?.selector = try HAProxyActionConfiguration.selector(fromFlags: haproxySelector)
        }
        try result?.validate()
        return result
    }

    /// Feeds member snapshots to the actions on every membership change, and runs them until the agent stops.
    /// Returns whether an action failed (it logged why).
    static func run(_ actions: [any AgentAction], with agent: Agent, logger: Logger) async -> Bool {
        guard !actions.isEmpty else { return false }
        agent.eventLoop.execute {
            _ = agent.addListener(token: { event in
                switch event {
                case .memberJoined, .memberLeft, .memberFailed, .memberUpdated, .memberReaped:
                    let members = agent.members()
                    for action in actions { action.membersChanged(members) }
                default: break
                }
            })
            let members = agent.members()
            for action in actions { action.membersChanged(members) }
        }
        return await withTaskGroup(of: Bool.self) { group in
            for action in actions {
                group.addTask {
                    do {
                        try await action.run()
                        return false
                    } catch {
                        logger.error("agent: \(action.name) action stopped: \(error)")
                        return true
                    }
                }
            }
            try? await agent.stopped.get()
            for action in actions { action.stop() }
            group.cancelAll()
            var failed = false
            for await f in group { failed = failed || f }
            return failed
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
