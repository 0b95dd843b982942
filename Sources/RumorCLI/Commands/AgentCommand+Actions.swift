import RumorSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RumorActions
import RumorAgent
import RumorContainers
import RumorCore
import RumorDocker
#if canImport(Glibc)
import Glibc
#endif

/// A built-in action the agent can run: its key under `"actions"`, the flags it declares (their values reach it in
/// `config.actionFlags`), and how to make it from that section (nil when absent), those flags and the agent's
/// configuration. Returns nil when the action is not asked for.
struct BuiltinAction: Sendable {
    var name: String
    var flags: [ActionFlag] = []
    var make: @Sendable (_ section: JSON?, _ config: AgentConfiguration, _ context: Context) throws -> (any AgentAction)?

    struct Context: Sendable {
        var logger: Logger
        var eventLoop: any EventLoop
        /// The agent, once started (actions are made and preflighted before it starts).
        var agent: AgentBinding
    }
}

extension BuiltinAction {
    /// Every built-in action. Adding one is a folder in Sources/ and one line here.
    static let all: [BuiltinAction] = [.haproxy, .containers]

    static let haproxy = BuiltinAction(name: "haproxy", flags: HAProxyActionConfiguration.flags) { section, config, context in
        guard let haproxy = try HAProxyActionConfiguration.configured(section: section, flags: config.actionFlags) else { return nil }
        return HAProxyAction(
            configuration: haproxy, nodeName: config.resolvedNodeName, logger: context.logger,
            eventLoop: context.eventLoop)
    }

    /// `apps_dir` / `--apps-dir` (its settings are agent options, so its `actions` section stays empty).
    static let containers = BuiltinAction(name: "containers") { section, config, context in
        guard let appsDir = config.appsDir else {
            if section != nil { throw ConfigurationError("actions: containers: set apps_dir (or --apps-dir) to run app containers") }
            return nil
        }
        var settings = ContainerActionConfiguration(appsDir: appsDir)
        settings.registryAuth = getenv("RUMOR_REGISTRY_AUTH").map { String(cString: $0) }
        settings.policy = config.appsAllow
        let host = AgentContainerHost(nodeName: config.resolvedNodeName, binding: context.agent)
        // The agent's own event loop carries the engine's sockets: no second thread pool for a few local requests.
        let engine = EngineConnector.docker(host: getenv("DOCKER_HOST").map { String(cString: $0) }, group: context.eventLoop)
        let action = ContainerAction(configuration: settings, host: host, logger: context.logger, group: context.eventLoop, engine: engine)
        context.agent.onBind { agent in
            agent.setAppsProvider { op, name in try AgentCommand.answerApps(action.status(), op: op, name: name) }
        }
        return action
    }
}

/// The agent as actions made before it started see it: bound once it runs.
final class AgentBinding: Sendable {
    private struct State {
        var agent: Agent?
        var hooks: [@Sendable (Agent) -> Void] = []
    }
    private let state = NIOLockedValueBox(State())

    var agent: Agent? { state.withLockedValue { $0.agent } }

    func onBind(_ hook: @escaping @Sendable (Agent) -> Void) { state.withLockedValue { $0.hooks.append(hook) } }

    func bind(_ agent: Agent) {
        let hooks = state.withLockedValue { s -> [@Sendable (Agent) -> Void] in
            s.agent = agent
            return s.hooks
        }
        for hook in hooks { hook(agent) }
    }
}

/// The agent as the container action sees it: tags it owns, and handler events.
struct AgentContainerHost: ContainerHost {
    let nodeName: String
    let binding: AgentBinding

    func setTags(_ changes: [String: String?]) async throws {
        guard let agent = binding.agent else { throw CommandError("the agent is not running yet") }
        try await agent.updateActionTags(changes).get()
    }

    func fire(_ event: ContainerEvent) {
        binding.agent?.fireActionEvent(type: event.kind.rawValue, environment: event.environment)
    }

    func clusterApps() async -> [String: [UInt8]] {
        guard let agent = binding.agent else { return [:] }
        return (try? await agent.eventLoop.submit { agent.appsToRun }.get()) ?? [:]
    }

    func onClusterAppsChange(_ listener: @escaping @Sendable () -> Void) {
        binding.onBind { $0.onClusterAppsChange(listener) }
        binding.agent?.onClusterAppsChange(listener)
    }
}

extension ContainerAction: AgentAction {
    public var name: String { "containers" }
}

extension AgentCommand {
    /// The actions `"actions"` in the config files and the flags ask for, in `BuiltinAction.all` order.
    func configuredActions(_ config: AgentConfiguration, context: BuiltinAction.Context) throws -> [any AgentAction] {
        var sections: [String: JSON] = [:]
        if let json = config.actions {
            guard case .object(let pairs) = json else {
                throw ConfigurationError("actions: expected an object such as {\"haproxy\": {...}}")
            }
            let names = BuiltinAction.all.map(\.name)
            for (name, section) in pairs {
                guard names.contains(name) else {
                    throw ConfigurationError("actions: unknown action '\(name)' (available: \(names.joined(separator: ", ")))")
                }
                sections[name] = section
            }
        }
        return try BuiltinAction.all.compactMap { try $0.make(sections[$0.name], config, context) }
    }

    /// `rumor apps ls|inspect` answered from the container action's status.
    static func answerApps(_ all: JSON, op: AppsOperation, name: String) throws -> String {
        switch op {
        case .ls: return all.serialized()
        case .inspect:
            guard let app = all.arrayValue?.first(where: { $0["app"]?.stringValue == name }) else {
                throw CommandError("no app named '\(name)' on this node")
            }
            return app.serialized(indent: 2)
        default: throw CommandError("apps \(op) is answered by the agent, not the container action")
        }
    }

    /// Waits (at most `limit`) for every action to publish its first tags, so the agent joins with them.
    static func ready(_ actions: [any AgentAction], within limit: Duration, logger: Logger) async {
        guard !actions.isEmpty else { return }
        let done = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { each in
                    for action in actions { each.addTask { await action.ready() } }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !done { logger.warning("agent: actions not ready after \(limit); joining without waiting for them") }
    }

    /// How long stopped actions get to finish (a leaving worker's drain plus its containers' stop grace fit).
    static let actionStopDeadline: Duration = .seconds(30)

    /// Feeds member snapshots to the actions on every membership change, and runs them until the agent stops.
    /// Returns whether an action failed (it logged why).
    static func run(_ actions: [any AgentAction], with agent: Agent, logger: Logger) async -> Bool {
        guard !actions.isEmpty else { return false }
        agent.addMetrics { m in for action in actions { action.metrics(&m) } }
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
        let executor = EventLoopTaskExecutor(agent.eventLoop)
        // nil: the deadline for actions to finish once stopped.
        return await withTaskGroup(of: Bool?.self) { group in
            for action in actions {
                group.addTask(executorPreference: executor) {
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
            if (try? await agent.eventLoop.submit({ agent.isLeaving }).get()) == true {
                for action in actions { action.agentLeft() }
            }
            for action in actions { action.stop() }
            // Stopped actions finish their own way (HAProxy stops, a node that left removes its containers after
            // their drain); only one that overruns this is cancelled.
            group.addTask {
                try? await Task.sleep(for: actionStopDeadline)
                return nil
            }
            var failed = false
            var running = actions.count
            for await result in group {
                if running == 0 { continue }  // the deadline's sleeper, cancelled once every action finished
                guard let result else {
                    logger.warning("agent: actions still running \(actionStopDeadline) after the agent stopped; cancelling them")
                    group.cancelAll()
                    continue
                }
                failed = failed || result
                running -= 1
                if running == 0 { group.cancelAll() }
            }
            return failed
        }
    }
}
