#if canImport(Glibc)
import RumorSupport
import Glibc
#endif
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import RumorContainers
import RumorCore
import RumorActions
import RumorAgent
import RumorRuntime

/// `rumor agent`: runs a cluster member. Flags and config keys follow `serf agent`.
public struct AgentCommand: Subcommand {
    public static let name = "agent"
    public static let abstract = "Run a Rumor agent (joins a cluster, serves RPC, runs handlers)."
    public static let discussion = """
        Configuration is layered: defaults, then --config-file/--config-dir JSON (Serf's keys), then flags.
        """
    /// The agent's settings (``AgentOption/all``) and the flags each built-in action declares for itself.
    static let allOptions = AgentOption.all
        + BuiltinAction.all.flatMap { $0.flags.map { AgentOption.actionFlag($0.name, value: $0.valueName, repeatable: $0.repeatable, help: $0.help) } }

    /// From the option declarations, so help, parser and config keys agree.
    public static let options: [Option] = allOptions.flatMap { option in
        option.flags.map { name in
            let help = option.help + (option.defaultText.isEmpty ? "" : " (default \(option.defaultText))")
            guard let valueName = option.valueName else { return Option.flag(name, help) }
            return option.repeatable ? .repeated(name, valueName, help) : .value(name, valueName, help)
        }
    }

    /// The command line as given: SIGHUP re-reads the files and applies these flags on top again.
    let flags: ParsedArguments

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])' (options start with - or --)")
        }
        flags = arguments
    }

    /// Merges defaults, files and flags into one configuration, and validates it. Every error names the file and
    /// key, or the flag, with the value and what was expected.
    public func resolvedConfiguration() throws(ConfigurationError) -> AgentConfiguration {
        var config = AgentConfiguration()
        for path in flags.values("config-file") { try config.merge(file: path) }
        for dir in flags.values("config-dir") {
            for path in try AgentConfiguration.jsonFiles(in: dir) { try config.merge(file: path) }
        }
        for option in Self.allOptions {
            for name in option.flags {
                for value in flags.values(name) { try config.apply(option, flagValue: value) }
            }
        }
        try config.validate()
        return config
    }

    public func run() async throws {
        // A configuration error is one line and exit status 1 (RumorCommand prints it), before any logging.
        let config = try resolvedConfiguration()
        let level = Logger.Level(serfName: config.logLevel) ?? .info
        LoggingSystem.bootstrap { _ in AgentLogHandler(level: level) }
        let logger = Logger(label: "rumor")
        FileLimit.raiseToHard(logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()

        let agent: Agent
        let actions: [any AgentAction]
        let binding = AgentBinding()
        let running: Task<Bool, Never>
        let signals: SignalHandling
        do {
            actions = try configuredActions(config, context: .init(logger: logger, eventLoop: loop, agent: binding))
            for action in actions { try action.preflight() }
            agent = try await Agent.start(configuration: config, eventLoop: loop, logger: logger).get()
            binding.bind(agent)
            logger.info("agent: Rumor agent running as '\(agent.name)'")
            // Signals are the agent's from here on: a SIGINT while it waits for its actions or joins is a leave.
            // The parsed flags never change after start; re-reading only the files is what SIGHUP needs.
            let command = self
            signals = SignalHandling(agent: agent, config: config, actions: actions, logger: logger) {
                try? command.resolvedConfiguration()
            }
            signals.install()
            running = Task { [actions] in await Self.run(actions, with: agent, logger: logger) }
            await Self.ready(actions, within: .seconds(5), logger: logger)
            agent.rejoinFromSnapshot()
            let joined = try await agent.joinAtStartup().get()
            if joined.joined > 0 { logger.info("agent: joined \(joined.joined) nodes") }
        } catch {
            logger.error("agent: \(error)")
            throw ExitCode.failure
        }
        agent.retryJoin().whenFailure { error in
            logger.error("agent: \(error)")
            Glibc.exit(1)
        }
        if await running.value { _ = agent.shutdown() }
        try? await agent.stopped.get()
        logger.info("agent: shutdown complete")
        try? await group.shutdownGracefully()
        withExtendedLifetime(signals) {}
    }
}

/// SIGINT/SIGTERM: graceful leave (unless configured otherwise), a second signal exits at once.
final class SignalHandling: @unchecked Sendable {
    // @unchecked: the sources are created once and only read afterwards.
    let agent: Agent
    let config: AgentConfiguration
    /// Reloaded with the agent on SIGHUP.
    let actions: [any AgentAction]
    let logger: Logger
    var sources: [any DispatchSourceSignal] = []
    let signalled = NIOLockedValueBox(false)
    /// Re-reads the configuration files and flags for SIGHUP.
    let reloadConfiguration: @Sendable () -> AgentConfiguration?

    init(agent: Agent, config: AgentConfiguration, actions: [any AgentAction], logger: Logger,
         reloadConfiguration: @escaping @Sendable () -> AgentConfiguration?) {
        self.agent = agent
        self.config = config
        self.actions = actions
        self.logger = logger
        self.reloadConfiguration = reloadConfiguration
    }

    func install() {
        signal(SIGHUP, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hup.setEventHandler { [self] in
            logger.info("agent: caught SIGHUP, reloading configuration")
            guard let config = reloadConfiguration() else {
                return logger.error("agent: reload failed: the configuration no longer validates, keeping the old one")
            }
            agent.reload(config)
            for action in actions { action.reload() }
        }
        hup.resume()
        sources.append(hup)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in received(sig) }
            source.resume()
            sources.append(source)
        }
    }

    func received(_ sig: Int32) {
        let again = signalled.withLockedValue { was in defer { was = true }; return was }
        if again {
            logger.warning("agent: second signal, exiting without finishing the leave")
            Glibc.exit(1)
        }
        let graceful = sig == SIGINT ? !config.skipLeaveOnInterrupt : config.leaveOnTerminate
        logger.info("agent: caught signal \(sig == SIGINT ? "interrupt" : "terminated"), \(graceful ? "leaving gracefully" : "stopping")")
        _ = graceful ? agent.leave() : agent.shutdown()
    }
}
