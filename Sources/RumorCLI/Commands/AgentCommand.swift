#if canImport(Glibc)
import RumorSupport
import Glibc
#endif
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
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
    public static let options: [Option] = [
        .value("node", "name", "Node name (default: the host name)."),
        .value("bind", "ip[:port]", "Address to bind gossip UDP and TCP to."),
        .value("advertise", "ip[:port]", "Address to advertise to peers."),
        .repeated("join", "address", "Address to join at start (host, host:port or ip)."),
        .repeated("retry-join", "address", "Address to join, retried until it works."),
        .value("retry-interval", "duration", "Time between retry-join attempts (e.g. 30s)."),
        .value("retry-max", "n", "Retry-join attempts before giving up (0: forever)."),
        .flag("replay", "Replay past user events on join."),
        .repeated("tag", "key=value", "Tag of this node."),
        .value("tags-file", "path", "JSON file of tags, rewritten when tags change."),
        .value("role", "value", "Deprecated Serf flag: same as --tag role=VALUE."),
        .value("profile", "lan|wan|local", "Timing profile."),
        .value("protocol", "n", "Serf protocol version to speak (2-5)."),
        .value("rpc-addr", "ip:port", "Address for the RPC listener."),
        .value("rpc-auth", "token", "Token RPC clients must present."),
        .value("log-level", "level", "trace, debug, info, warn or err."),
        .repeated("event-handler", "[filter=]script", "Event handler script."),
        .value("snapshot", "path", "Snapshot file for rejoining after a restart."),
        .flag("rejoin", "Rejoin from the snapshot even after a graceful leave."),
        .value("encrypt", "key", "Base64 encryption key (32 bytes)."),
        .value("keyring-file", "path", "JSON keyring file."),
        .flag("encrypt-allow-plaintext", "Also accept plaintext gossip (migration)."),
        .flag("disable-compression", "Do not compress TCP state exchanges."),
        .value("broadcast-timeout", "duration", "How long a leave waits for its broadcast."),
        .value("haproxy-config", "path", "Run the HAProxy action, writing this config file."),
        .value("haproxy-template", "path", "Mustache template for the HAProxy config."),
        .repeated("haproxy-selector", "tag=regexp", "Members to balance."),
        .repeated("config-file", "path", "JSON config file."),
        .repeated("config-dir", "path", "Directory of *.json config files."),
    ]

    /// The command line as given: SIGHUP re-reads the files and applies these flags on top again.
    let flags: ParsedArguments

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])' (options start with - or --)")
        }
        flags = arguments
        _ = try resolvedFlags()
    }

    /// The typed flags; malformed numbers and durations are usage errors.
    private func resolvedFlags() throws(UsageError) -> (retryInterval: Duration?, retryMax: Int?, protocolVersion: Int?, broadcastTimeout: Duration?) {
        (try flags.duration("retry-interval"), try flags.int("retry-max"), try flags.int("protocol"),
         try flags.duration("broadcast-timeout"))
    }

    /// Merges defaults, files and flags into one configuration, and validates it.
    public func resolvedConfiguration() throws -> AgentConfiguration {
        var config = AgentConfiguration()
        for path in flags.values("config-file") { try config.merge(file: path) }
        for dir in flags.values("config-dir") {
            for path in try AgentConfiguration.jsonFiles(in: dir) { try config.merge(file: path) }
        }
        let typed = try resolvedFlags()
        if let node = flags.value("node") { config.nodeName = node }
        if let bind = flags.value("bind") { config.bind = bind }
        if let advertise = flags.value("advertise") { config.advertise = advertise }
        config.join += flags.values("join")
        config.retryJoin += flags.values("retry-join")
        if let retryInterval = typed.retryInterval { config.retryInterval = retryInterval }
        if let retryMax = typed.retryMax { config.retryMax = retryMax }
        if flags.flag("replay") { config.replayOnJoin = true }
        for t in flags.values("tag") {
            guard let eq = t.firstIndex(of: "="), eq != t.startIndex else {
                throw UsageError("invalid --tag '\(t)': expected key=value")
            }
            config.tags[String(t[..<eq])] = String(t[t.index(after: eq)...])
        }
        if let role = flags.value("role") { config.tags["role"] = role }
        if let tagsFile = flags.value("tags-file") { config.tagsFile = tagsFile }
        if let profile = flags.value("profile") { config.profile = profile }
        if let protocolVersion = typed.protocolVersion { config.protocolVersion = protocolVersion }
        if let rpcAddr = flags.value("rpc-addr") { config.rpcAddr = rpcAddr }
        if let rpcAuth = flags.value("rpc-auth") { config.rpcAuth = rpcAuth }
        if let logLevel = flags.value("log-level") { config.logLevel = logLevel }
        config.eventHandlers += flags.values("event-handler")
        if let snapshot = flags.value("snapshot") { config.snapshotPath = snapshot }
        if flags.flag("rejoin") { config.rejoinAfterLeave = true }
        if let encrypt = flags.value("encrypt") { config.encryptKey = encrypt }
        if let keyringFile = flags.value("keyring-file") { config.keyringFile = keyringFile }
        if flags.flag("encrypt-allow-plaintext") { config.encryptAllowPlaintext = true }
        if flags.flag("disable-compression") { config.enableCompression = false }
        if let broadcastTimeout = typed.broadcastTimeout { config.broadcastTimeout = broadcastTimeout }
        try config.validate()
        return config
    }

    public func run() async throws {
        let config: AgentConfiguration
        do { config = try resolvedConfiguration() } catch let e as UsageError { throw e } catch {
            throw UsageError("\(error)")
        }
        let level = Logger.Level(serfName: config.logLevel) ?? .info
        LoggingSystem.bootstrap { _ in AgentLogHandler(level: level) }
        let logger = Logger(label: "rumor")
        FileLimit.raiseToHard(logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()

        let agent: Agent
        var action: HAProxyAction?
        do {
            if let haproxy = try haproxyConfiguration(config) {
                let a = HAProxyAction(configuration: haproxy, nodeName: config.resolvedNodeName, logger: logger, eventLoop: loop)
                try a.preflight()
                action = a
            }
            agent = try await Agent.start(configuration: config, eventLoop: loop, logger: logger).get()
            logger.info("agent: Rumor agent running as '\(agent.name)'")
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
        // The parsed flags never change after start; re-reading only the files is what SIGHUP needs.
        let command = self
        let signals = SignalHandling(agent: agent, config: config, logger: logger) {
            try? command.resolvedConfiguration()
        }
        signals.install()
        if let action {
            do { try await Self.run(action, with: agent) } catch {
                logger.error("agent: haproxy action stopped: \(error)")
                _ = agent.shutdown()
            }
        }
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
    let logger: Logger
    var sources: [any DispatchSourceSignal] = []
    let signalled = NIOLockedValueBox(false)
    /// Re-reads the configuration files and flags for SIGHUP.
    let reloadConfiguration: @Sendable () -> AgentConfiguration?

    init(agent: Agent, config: AgentConfiguration, logger: Logger,
         reloadConfiguration: @escaping @Sendable () -> AgentConfiguration?) {
        self.agent = agent
        self.config = config
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
