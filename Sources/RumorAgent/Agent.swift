import RumorSupport
import Logging
import NIOCore
import NIOPosix
import RumorApps
import RumorCore
import RumorCrypto
import RumorRuntime
import RumorWire

/// The agent: a protocol runtime plus what Serf's agent adds around it (RPC, joining by name, logs, and the
/// event listeners that handler scripts and built-in actions hang off).
///
/// Like the runtime, the agent lives on one event loop; every method here runs there.
public final class Agent: AgentRPCBackend, @unchecked Sendable {
    // @unchecked: all mutable state is confined to `eventLoop`.
    public let configuration: AgentConfiguration
    public let eventLoop: any EventLoop
    public let runtime: Runtime
    public let name: String
    public private(set) var advertised: Address?
    let logger: Logger
    var nextRequest: RequestID = 0
    var joinPromises: [RequestID: EventLoopPromise<JoinResult>] = [:]
    var leavePromise: EventLoopPromise<Void>?
    var rpc: RPCServer?
    var queryObservers: [RequestID: QueryObserver] = [:]
    var nextListener = 0
    var tokenListeners: [Int: (Event) -> Void] = [:]
    /// Serf-style handler scripts (`event_handlers`).
    public internal(set) var handlers: EventHandlers?
    /// What the snapshot file remembered at start (`snapshot_path`), and the writer that keeps it current.
    var remembered = SnapshotState()
    var snapshotter: Snapshotter?
    let stoppedPromise: EventLoopPromise<Void>
    var isStopping = false
    /// Answers `apps` RPC calls when the container action runs.
    var appsProvider: (@Sendable (AppsOperation, String) throws -> String)?
    /// Cluster-wide app specs (Agent+AppSpecs.swift): whether this node runs apps, who to tell of changes, and
    /// when each (member, digest) pair was last synced.
    var appsNode = false
    /// `Agent.digest(of:)` of the core's records, kept current by `appChanged`.
    var appsDigest = "0"
    var appListeners: [@Sendable () -> Void] = []
    var appSyncs: [String: NIODeadline] = [:]
    /// Which spec this node runs of each app, and rolling deploys (RumorApps; Agent+Rollouts.swift feeds it).
    lazy var coordinator = AppsCoordinator(node: name)
    /// The spec this node runs of each cluster-wide app (empty: stopped), as the container action reads it; kept
    /// by `updateRollouts`. Read on `eventLoop`.
    public internal(set) var appsToRun: [String: [UInt8]] = [:]
    /// `apps_trust`: who may change the cluster's apps; the core's gate, replaced on SIGHUP.
    var appTrust = AppTrust()
    /// Refusal lines logged in the current minute (Agent+AppSpecs.swift `appRefused`).
    var refusalLog: (start: NIODeadline, count: Int, unlogged: Int) = (.uptimeNanoseconds(0), 0, 0)
    /// Counters, recent events and the HTTP listener (Agent+Observe.swift).
    var observation = Observation()
    /// A `_serf_conflict` vote is under way (one at a time, however many conflicting messages arrive).
    var resolvingConflict = false

    /// Completes when the agent has shut down (after a leave, a `leave` RPC, or ``shutdown()``).
    public var stopped: EventLoopFuture<Void> { stoppedPromise.futureResult }

    /// Encryption and the keyring, when configured; shared with the runtime, rotated through key queries.
    public let security: MemberlistSecurity?

    init(configuration: AgentConfiguration, name: String, security: MemberlistSecurity?, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.name = name
        self.eventLoop = eventLoop
        self.logger = logger
        self.security = security
        self.runtime = Runtime(eventLoop: eventLoop, security: security, logger: logger)
        self.stoppedPromise = eventLoop.makePromise()
    }

    /// Validates the configuration, binds the gossip and RPC sockets and starts the protocol. Joining is separate
    /// (``joinAtStartup()``) so callers decide how to treat a failed join.
    public static func start(configuration: AgentConfiguration, eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<Agent> {
        eventLoop.flatSubmit {
            let tags: [String: String]
            let bind: HostPort
            let security: MemberlistSecurity?
            do {
                try configuration.validate()
                tags = try TagsFile.load(configuration)
                bind = try HostPort.parse(configuration.bind, defaultPort: 7946, what: "bind address")
                security = try MemberlistSecurity.configured(
                    encryptKey: configuration.encryptKey, keyringFile: configuration.keyringFile,
                    allowPlaintext: configuration.encryptAllowPlaintext)
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            let name = configuration.resolvedNodeName
            let agent = Agent(configuration: configuration, name: name, security: security, eventLoop: eventLoop, logger: logger)
            do {
                agent.appTrust = try AppTrust(configured: configuration.appsTrust)
                // Only nodes that deploy or run apps need to say who may deploy.
                if !configuration.appsTrust.isEmpty || configuration.appsDir != nil { logger.info("\(agent.appTrust.summary)") }
                if let path = configuration.snapshotPath {
                    agent.remembered = try Snapshotter.replay(
                        path: path, rejoinAfterLeave: configuration.rejoinAfterLeave, logger: logger)
                }
                agent.handlers = try EventHandlers(
                    configuration: configuration.eventHandlers,
                    settings: HandlerSettings(leadingEdge: configuration.coalesceLeadingEdge), eventLoop: eventLoop, logger: logger,
                    respond: { [weak agent] ltime, id, payload in
                        agent?.runtime.submit(.respond(ltime: ltime, id: id, payload: payload))
                    })
            } catch {
                agent.stoppedPromise.succeed(())
                return eventLoop.makeFailedFuture(error)
            }
            return agent.bind(bind, tags: tags).map { agent }.flatMapErrorThrowing { error in
                agent.stoppedPromise.succeed(())  // it never ran; nobody may wait forever on it
                throw error
            }
        }
    }

    private func bind(_ bind: HostPort, tags: [String: String]) -> EventLoopFuture<Void> {
        let advertiseHost: String
        var advertisePort: Int?
        do {
            if let text = configuration.advertise {
                let hp = try HostPort.parse(text, defaultPort: bind.port, what: "advertise address")
                (advertiseHost, advertisePort) = (hp.host, hp.port)
            } else {
                advertiseHost = try Advertise.choose(bindHost: bind.host)
            }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        guard let parsed = Address(host: advertiseHost, port: 0), !parsed.isUnspecified else {
            return eventLoop.makeFailedFuture(StartupError(
                "cannot advertise '\(advertiseHost)': use an IP address that peers can reach"))
        }
        runtime.onEvent = { [self] event in dispatch(event) }
        let fixedPort = advertisePort
        return runtime.start(host: bind.host, port: bind.port) { [self] boundPort in
            let address = Address(ip: parsed.ip, port: UInt16(fixedPort ?? boundPort))
            advertised = address
            logger.info("agent: advertising \(address) (bound to \(bind.host):\(boundPort))")
            var settings = configuration.memberlistSettings
            settings.packetOverhead = security?.overhead ?? 0
            if let security {
                logger.info("agent: gossip encryption enabled with \(security.keyring.keys.count) key(s)")
            }
            // Logged so a run can be replayed in the simulator with the same random choices.
            let seed = UInt64.random(in: .min ... .max)
            logger.debug("agent: protocol instance seed \(seed)")
            var instance = Instance(
                name: name, address: address, tags: tags, settings: settings,
                serfSettings: configuration.serfSettings, seed: seed)
            instance.appGate = appTrust
            // A restarted agent must not run handlers again for events it handled before it stopped.
            instance.restore(
                memberClock: remembered.memberClock, eventClock: remembered.eventClock, queryClock: remembered.queryClock)
            return instance
        }
        .flatMapErrorThrowing { error in
            throw StartupError("failed to bind UDP and TCP on \(bind): \(error)")
        }
        .flatMapThrowing { [self] in
            try openSnapshot()
            loadAppStore()
        }
        .flatMap { [self] in startRPC() }
        .flatMap { [self] in startHTTP() }
    }

    private func startRPC() -> EventLoopFuture<Void> {
        let addr: HostPort
        do { addr = try HostPort.parse(configuration.rpcAddr, defaultPort: 7373, what: "RPC address") } catch {
            return eventLoop.makeFailedFuture(error)
        }
        if configuration.rpcAuth == nil, let ip = Address(host: addr.host, port: 0), !ip.isLoopback {
            // The RPC can deploy apps and run queries: off loopback it is a door to every node.
            logger.warning("agent: the RPC listener is bound to \(addr.host), not loopback, and rpc_auth is not set: anyone who can reach \(configuration.rpcAddr) can drive this agent; set rpc_auth or bind it to 127.0.0.1")
        }
        let server = RPCServer(backend: self, authKey: configuration.rpcAuth, logger: logger)
        rpc = server
        return server.start(host: addr.host, port: addr.port).flatMapErrorThrowing { [self] error in
            _ = runtime.shutdown()
            throw StartupError("failed to start the RPC listener on \(addr): \(error)")
        }
    }

    func dispatch(_ event: Event) {
        if let snapshotter {
            // Before the internal-query filter, as serf's snapshotter sits. Written through at once rather than
            // every 500 ms as serf does: a crash right after an event must not make the restarted agent run its
            // handlers again (page cache suffices for kill -9; no fsync per event).
            snapshotter.record(event)
            snapshotter.flush()
        }
        observe(event)
        if routeQueryEvent(event) { return }
        switch event {
        case .joinFinished(let id, let joined, let errors):
            joinPromises.removeValue(forKey: id)?.succeed(JoinResult(joined: joined, errors: errors))
        case .leaveFinished:
            leavePromise?.succeed(())
        case .memberJoined(let m):
            logger.info("serf: EventMemberJoin: \(m.name) \(m.address.host)")
            syncApps(with: m)
            followRollouts()
        case .memberLeft(let m):
            logger.info("serf: EventMemberLeave: \(m.name) \(m.address.host)")
            followRollouts()
        case .memberFailed(let m):
            logger.info("serf: EventMemberFailed: \(m.name) \(m.address.host)")
            followRollouts()
        case .memberUpdated(let m):
            logger.info("serf: EventMemberUpdate: \(m.name)")
            syncApps(with: m)
            followRollouts()
        case .memberReaped(let m): logger.info("serf: EventMemberReap: \(m.name)")
        case .nameConflict(let address): resolveNameConflict(with: address)
        case .appChanged(let record): appChanged(record)
        case .appRefused(let app, let serial, let origin, let source, let reason):
            appRefused(app, serial: serial, origin: origin, source: source, reason: reason)
        default: break
        }
        handlers?.handle(event, selfMember: runtime.instance.localMember)
        for listener in tokenListeners.values { listener(event) }
    }

    // MARK: - AgentRPCBackend

    public func members() -> [Member] { runtime.withInstance { $0.allMembers } }

    public func join(_ addresses: [String], replay: Bool) -> EventLoopFuture<JoinResult> {
        Resolver.resolveAll(addresses, defaultPort: Int(advertised?.port ?? 7946), on: eventLoop).flatMap { [self] resolved in
            guard !resolved.addresses.isEmpty else {
                return eventLoop.makeSucceededFuture(JoinResult(joined: 0, errors: resolved.errors))
            }
            nextRequest += 1
            let promise = eventLoop.makePromise(of: JoinResult.self)
            joinPromises[nextRequest] = promise
            runtime.submit(.join(resolved.addresses, replay: replay, id: nextRequest))
            return promise.futureResult.map { JoinResult(joined: $0.joined, errors: resolved.errors + $0.errors) }
        }
    }

    /// Whether the agent has been asked to leave the cluster gracefully (signal, RPC `leave`). Call on `eventLoop`.
    public var isLeaving: Bool {
        eventLoop.preconditionInEventLoop()
        return leavePromise != nil
    }

    public func leave() -> EventLoopFuture<Void> {
        if let leavePromise { return leavePromise.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        leavePromise = promise
        logger.info("agent: graceful leave")
        snapshotter?.recordLeave()
        runtime.submit(.leave)
        // A leave must not hang forever on a broken network: serf cuts it off too.
        let limit = configuration.broadcastTimeout * 2 + .seconds(2)
        eventLoop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) { promise.succeed(()) }
        return promise.futureResult.flatMap { [self] in shutdown() }
    }

    public func forceLeave(node: String, prune: Bool) -> EventLoopFuture<Void> {
        runtime.submit(.forceLeave(node: node, prune: prune))
        return eventLoop.makeSucceededVoidFuture()
    }

    public func coordinate(of node: String) -> Coordinate? {
        runtime.withInstance { $0.coordinate(of: node) }
    }

    public func stats() -> [String: [String: String]] {
        runtime.withInstance { i in
            let members = i.allMembers
            let queues = i.pendingBroadcasts
            return [
                "agent": ["name": name],
                "runtime": ["os": "linux", "arch": Self.arch, "version": "rumor \(RumorVersion.number)", "max_procs": "1", "goroutines": "1",
                            "cpu_count": "\(System.coreCount)"],
                "serf": [
                    "members": "\(members.count)",
                    "failed": "\(members.filter { $0.status == .failed }.count)",
                    "left": "\(members.filter { $0.status == .left }.count)",
                    "health_score": "\(i.awareness)",
                    "member_time": "\(i.clock.time)",
                    "event_time": "\(i.eventClock.time)",
                    "query_time": "\(i.queryClock.time)",
                    "intent_queue": "\(queues.intents)",
                    "event_queue": "\(queues.events)",
                    "query_queue": "\(queues.queries)",
                    "encrypted": security == nil ? "false" : "true",
                    "coordinate_resets": "\(i.coordinateResets)",
                ],
                "tags": i.tags,
                "event_handlers": handlers?.stats ?? [:],
            ]
        }
    }

    static var arch: String {
        #if arch(x86_64)
        "amd64"
        #elseif arch(arm64)
        "arm64"
        #else
        "unknown"
        #endif
    }

    // MARK: - Lifecycle

    /// Joins `start_join` targets; fails if none could be joined (Serf exits then).
    public func joinAtStartup() -> EventLoopFuture<JoinResult> {
        guard !configuration.join.isEmpty else { return eventLoop.makeSucceededFuture(JoinResult(joined: 0, errors: [])) }
        return join(configuration.join, replay: configuration.replayOnJoin).flatMapThrowing { result in
            guard result.joined > 0 else {
                throw StartupError("failed to join any of \(self.configuration.join): \(result.errors.joined(separator: "; "))")
            }
            return result
        }
    }

    /// SIGHUP: re-applies what Serf reloads at runtime (event handlers), and Rumor's deploy keys (`apps_trust`).
    /// A bad new configuration changes nothing.
    public func reload(_ configuration: AgentConfiguration) {
        eventLoop.execute { [self] in
            do {
                let trust = try AppTrust(configured: configuration.appsTrust)
                if trust != appTrust {
                    appTrust = trust
                    runtime.submit(.setAppGate(trust))
                    logger.info("agent: reloaded apps_trust. \(trust.summary)")
                }
            } catch {
                logger.error("agent: reload failed, keeping the old apps_trust: \(error)")
            }
            do {
                try handlers?.reload(configuration: configuration.eventHandlers)
                logger.info("agent: reloaded \(configuration.eventHandlers.count) event handlers")
            } catch {
                logger.error("agent: reload failed, keeping the old handlers: \(error)")
            }
        }
    }

    /// Stops without a graceful leave (others will see this node fail).
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            guard !isStopping else { return stopped }
            isStopping = true
            snapshotter?.close()  // first: it reads the last member clock from the running instance
            let closes = [
                runtime.shutdown(), rpc?.close() ?? eventLoop.makeSucceededVoidFuture(),
                observation.http?.close() ?? eventLoop.makeSucceededVoidFuture(),
                handlers?.shutdown() ?? eventLoop.makeSucceededVoidFuture(),
            ]
            return EventLoopFuture.andAllComplete(closes, on: eventLoop).always { [self] _ in
                stoppedPromise.succeed(())
            }
        }
    }
}

/// The version, once: `rumor version`, `--version` and the RPC `stats` all print it.
public enum RumorVersion {
    public static let number = "0.1.0"
    public static let text = "Rumor v\(number)"
}
