import RumorSupport
import Logging
import NIOCore
import NIOPosix
import RumorCore
import Synchronization

/// Counters describing what the action did, for `rumor info`, logs and tests.
public struct HAProxyActionStatistics: Sendable, Hashable {
    /// Member snapshots handed in, debounced batches applied from them, and the number of the last snapshot an
    /// apply finished with (successfully or not): `appliedSnapshot == snapshots` means the action caught up.
    public var snapshots = 0
    public var applies = 0
    public var appliedSnapshot = 0
    /// Applies that rendered the same file and changed no server: nothing done.
    public var unchanged = 0
    /// Renders HAProxy's check (or the template parser) rejected; the running config stayed.
    public var rejected = 0
    /// Files installed at `output`.
    public var writes = 0
    /// HAProxy starts (the first and restarts after it died), reloads (master CLI or SIGUSR2), and applies that
    /// went through the runtime API alone, with how many runtime commands they sent.
    public var starts = 0
    public var restarts = 0
    public var reloads = 0
    public var runtimeApplies = 0
    public var runtimeCommands = 0
    /// The last error (nil after a later success), for status output.
    public var lastError: String?
    /// The last successful apply, measured from the change that triggered it.
    public var lastApplyLatency: Duration?
    /// Server slots after the last apply: routing, draining, and free (placeholders in `maint`).
    public var servers = ServerCounts()

    public struct ServerCounts: Sendable, Hashable {
        public var ready = 0
        public var draining = 0
        public var free = 0
    }

    public init() {}
}

/// The built-in HAProxy action: keeps an HAProxy configuration (and, in `runtime` mode, a running HAProxy) in step
/// with the cluster's membership.
///
/// Used by the agent through `AgentAction`:
/// ```swift
/// let action = HAProxyAction(configuration: config, nodeName: name, logger: logger)
/// try action.preflight()                       // at startup: configuration and template errors, clearly
/// _ = agent.addListener(token: { _ in action.membersChanged(agent.members()) })
/// action.membersChanged(agent.members())       // the first snapshot starts HAProxy
/// try await action.run()                       // until stop() or cancelled; then stops the HAProxy it started
/// ```
/// `reload()` (SIGHUP) loads the template again and renders; `stop()` ends `run()`.
/// `membersChanged` never blocks and may be called from any thread, as often as members change: snapshots are
/// debounced (`debounce.quiet`, at most `debounce.max`), so a burst of joins costs one render and at most one
/// reload. All blocking work (HAProxy's config check, sockets, process supervision) runs on the action's own
/// thread pool, never on an event loop.
public final class HAProxyAction: AgentAction {
    public let configuration: HAProxyActionConfiguration
    let nodeName: String
    let logger: Logger
    let eventLoop: any EventLoop
    let mailbox = ActionMailbox()
    private let stats = Mutex(HAProxyActionStatistics())
    private let running = Atomic<Bool>(false)

    /// - Parameters:
    ///   - nodeName: this agent's node name; its member is the template's `self`.
    ///   - eventLoop: used only for the debounce timer; any loop will do.
    public init(
        configuration: HAProxyActionConfiguration, nodeName: String, logger: Logger,
        eventLoop: (any EventLoop)? = nil
    ) {
        self.configuration = configuration
        self.nodeName = nodeName
        var logger = logger
        logger[metadataKey: "action"] = "haproxy"
        self.logger = logger
        self.eventLoop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
    }

    public var name: String { "haproxy" }

    /// Checks what can be checked before anything runs: the configuration, the template's syntax, and that the
    /// HAProxy binary (for the check command and, in runtime/reload mode, to run) can be found.
    public func preflight() throws {
        try configuration.validate()
        _ = try HAProxyTemplateRenderer.load(configuration.template)
        _ = try MemberSelector(configuration: configuration)
        let needsBinary = configuration.apply.startsHAProxy
            || CommandLineSplitter.split(configuration.checkCommand)?.first == "haproxy"
        if needsBinary, FileSystem.findExecutable(configuration.haproxyBinary) == nil {
            throw HAProxyActionConfigurationError(
                key: "\(HAProxyActionConfiguration.keyPrefix).haproxy_binary",
                message: "\"\(configuration.haproxyBinary)\" is not an executable (or not on PATH); install HAProxy "
                    + "(2.6 or later) or set haproxy_binary")
        }
    }

    /// Hands in the current member list (all members, any status; the action selects). Non-blocking.
    public func membersChanged(_ members: [Member]) {
        let number = mailbox.postMembers(members)
        stats.withLock { $0.snapshots = max($0.snapshots, number) }
    }

    /// Loads the template again and renders with the current members (SIGHUP), even if the template file looks
    /// unchanged; a failed apply waiting out its back-off is tried again at once. Non-blocking.
    public func reload() {
        mailbox.requestReload()
    }

    /// Makes `run()` stop the HAProxy it started and return, as cancelling its task does. Non-blocking; an
    /// action stopped stays stopped (a later `run()` returns at once).
    public func stop() {
        mailbox.requestStop()
    }

    public var statistics: HAProxyActionStatistics { stats.withLock { $0 } }

    func updateStatistics(_ body: (inout HAProxyActionStatistics) -> Void) {
        stats.withLock { body(&$0) }
    }

    /// Runs the action until `stop()` or until the calling task is cancelled, then stops the HAProxy it started (soft stop:
    /// connections in flight finish). Throws only for errors that make the action unable to work at all
    /// (invalid configuration); failures of single renders or reloads are logged and retried on the next change.
    public func run() async throws {
        try configuration.validate()
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else {
            throw HAProxyActionError.startFailed(reason: "HAProxyAction.run() is already running", output: "")
        }
        defer { running.store(false, ordering: .releasing) }
        let pool = NIOThreadPool(numberOfThreads: 3)
        pool.start()
        let pipeline = try HAProxyPipeline(action: self, pool: pool)
        await pipeline.runUntilStopped()
        await pipeline.shutdown()
        try? await pool.shutdownGracefully()
    }
}
