#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import RumorCore
import RumorActions
import RumorAgent

/// `rumor agent`: runs a cluster member. Flags and config keys follow `serf agent`.
public struct AgentCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a Rumor agent (joins a cluster, serves RPC, runs handlers).",
        discussion: """
            Configuration is layered: defaults, then --config-file/--config-dir JSON (Serf's keys), then flags.
            Serf's single-dash spellings (-join=ha, -tag role=web) are accepted too.
            """
    )

    @Option(name: .customLong("node"), help: "Node name (default: the host name).") var node: String?
    @Option(help: "Address to bind gossip UDP and TCP to (ip[:port]).") var bind: String?
    @Option(help: "Address to advertise to peers (ip[:port]).") var advertise: String?
    @Option(help: "Address to join at start (host, host:port or ip); repeatable.") var join: [String] = []
    @Option(name: .customLong("retry-join"), help: "Address to join, retried until it works; repeatable.") var retryJoin: [String] = []
    @Option(name: .customLong("retry-interval"), help: "Time between retry-join attempts (e.g. 30s).") var retryInterval: String?
    @Option(name: .customLong("retry-max"), help: "Retry-join attempts before giving up (0: forever).") var retryMax: Int?
    @Flag(help: "Replay past user events on join.") var replay = false
    @Option(help: "Tag as key=value; repeatable.") var tag: [String] = []
    @Option(name: .customLong("tags-file"), help: "JSON file of tags, rewritten when tags change.") var tagsFile: String?
    @Option(help: "Deprecated Serf flag: same as --tag role=VALUE.") var role: String?
    @Option(help: "Timing profile: lan, wan or local.") var profile: String?
    @Option(name: .customLong("protocol"), help: "Serf protocol version to speak (2-5).") var protocolVersion: Int?
    @Option(name: .customLong("rpc-addr"), help: "Address for the RPC listener.") var rpcAddr: String?
    @Option(name: .customLong("rpc-auth"), help: "Token RPC clients must present.") var rpcAuth: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, warn or err.") var logLevel: String?
    @Option(name: .customLong("event-handler"), help: "Event handler script ([filter=]script); repeatable.") var eventHandler: [String] = []
    @Option(help: "Snapshot file for rejoining after a restart.") var snapshot: String?
    @Flag(help: "Rejoin from the snapshot even after a graceful leave.") var rejoin = false
    @Option(help: "Base64 encryption key (32 bytes).") var encrypt: String?
    @Option(name: .customLong("keyring-file"), help: "JSON keyring file.") var keyringFile: String?
    @Flag(name: .customLong("encrypt-allow-plaintext"), help: "Also accept plaintext gossip (migration).")
    var encryptAllowPlaintext = false
    @Flag(name: .customLong("disable-compression"), help: "Do not compress TCP state exchanges.") var disableCompression = false
    @Option(name: .customLong("broadcast-timeout"), help: "How long a leave waits for its broadcast.") var broadcastTimeout: String?
    @Option(name: .customLong("haproxy-config"), help: "Run the HAProxy action, writing this config file.")
    var haproxyConfig: String?
    @Option(name: .customLong("haproxy-template"), help: "Mustache template for the HAProxy config.")
    var haproxyTemplate: String?
    @Option(name: .customLong("haproxy-selector"), help: "Members to balance, as TAG=REGEX; repeatable.")
    var haproxySelector: [String] = []
    @Option(name: .customLong("config-file"), help: "JSON config file; repeatable.") var configFile: [String] = []
    @Option(name: .customLong("config-dir"), help: "Directory of *.json config files; repeatable.") var configDir: [String] = []

    public init() {}

    /// Merges defaults, files and flags into one configuration, and validates it.
    public func resolvedConfiguration() throws -> AgentConfiguration {
        var config = AgentConfiguration()
        for path in configFile { try config.merge(file: path) }
        for dir in configDir { for path in try AgentConfiguration.jsonFiles(in: dir) { try config.merge(file: path) } }
        if let node { config.nodeName = node }
        if let bind { config.bind = bind }
        if let advertise { config.advertise = advertise }
        config.join += join
        config.retryJoin += retryJoin
        if let retryInterval { config.retryInterval = try duration(retryInterval, "retry-interval") }
        if let retryMax { config.retryMax = retryMax }
        if replay { config.replayOnJoin = true }
        for t in tag {
            guard let eq = t.firstIndex(of: "="), eq != t.startIndex else {
                throw ValidationError("invalid --tag '\(t)': expected key=value")
            }
            config.tags[String(t[..<eq])] = String(t[t.index(after: eq)...])
        }
        if let role { config.tags["role"] = role }
        if let tagsFile { config.tagsFile = tagsFile }
        if let profile { config.profile = profile }
        if let protocolVersion { config.protocolVersion = protocolVersion }
        if let rpcAddr { config.rpcAddr = rpcAddr }
        if let rpcAuth { config.rpcAuth = rpcAuth }
        if let logLevel { config.logLevel = logLevel }
        config.eventHandlers += eventHandler
        if let snapshot { config.snapshotPath = snapshot }
        if rejoin { config.rejoinAfterLeave = true }
        if let encrypt { config.encryptKey = encrypt }
        if let keyringFile { config.keyringFile = keyringFile }
        if encryptAllowPlaintext { config.encryptAllowPlaintext = true }
        if disableCompression { config.enableCompression = false }
        if let broadcastTimeout { config.broadcastTimeout = try duration(broadcastTimeout, "broadcast-timeout") }
        try config.validate()
        return config
    }

    private func duration(_ text: String, _ flag: String) throws -> Duration {
        guard let d = parseGoDuration(text) else {
            throw ValidationError("invalid --\(flag) '\(text)': use a duration such as 500ms, 30s or 5m")
        }
        return d
    }

    public func run() async throws {
        let config: AgentConfiguration
        do { config = try resolvedConfiguration() } catch let e as ValidationError { throw e } catch {
            throw ValidationError("\(error)")
        }
        let level = Logger.Level(serfName: config.logLevel) ?? .info
        LoggingSystem.bootstrap { _ in AgentLogHandler(level: level) }
        let logger = Logger(label: "rumor")
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
        nonisolated(unsafe) let command = self
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
