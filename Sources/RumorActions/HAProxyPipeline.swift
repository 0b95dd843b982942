import RumorSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOPosix
import RumorCore

/// The action's single consumer: debounce → render → skip if unchanged → check → install → apply.
///
/// Owned by the task inside `HAProxyAction.run()` and never shared, so its state needs no locks; the agent talks
/// to it only through the mailbox. Blocking work goes to the thread pool through `offload`.
final class HAProxyPipeline {
    private let action: HAProxyAction
    private let config: HAProxyActionConfiguration
    private let pool: NIOThreadPool
    private let selector: MemberSelector
    private let installer: ConfigInstaller
    private var logger: Logger { action.logger }
    private var mailbox: ActionMailbox { action.mailbox }

    /// How often the template file is checked for edits (a fixed template is picked up without a member change).
    static let templateCheckInterval = Duration.seconds(1)

    private var renderer: HAProxyTemplateRenderer?
    /// Set while the template on disk does not parse (the last good one is used meanwhile).
    private var templateError: HAProxyActionError?
    private var templateFingerprint: [Int]?
    private var nextTemplateCheck = ContinuousClock.now

    private var latestMembers: [Member]?
    private var latestNumber = 0
    private var dirty = false
    private var batchStartedAt: ContinuousClock.Instant?
    private var retryAt: ContinuousClock.Instant?
    private var retryBackoff = Duration.seconds(1)

    /// Slots as HAProxy has them, the file on disk, and what the running HAProxy loaded.
    private var applied = SlotTable(count: 0)
    private var installedText: String?
    private var loadedText: String?
    private var loadedKey: String?

    private var master: HAProxyMaster?
    private var masterStartedAt: ContinuousClock.Instant?
    private var restartAt: ContinuousClock.Instant?
    private var restartBackoff = Duration.zero
    private var crashed = false
    private var reportedRejections: [String: String] = [:]
    private var failing = false

    init(action: HAProxyAction, pool: NIOThreadPool) throws {
        self.action = action
        self.config = action.configuration
        self.pool = pool
        self.selector = try MemberSelector(configuration: config)
        self.installer = ConfigInstaller(
            output: config.output, checkCommand: config.checkCommand, haproxyBinary: config.haproxyBinary)
        loadTemplate(initial: true)
    }

    // MARK: Loop

    func runUntilCancelled() async {
        while !Task.isCancelled {
            let seen = mailbox.sequence
            let now = ContinuousClock.now
            var wake: [ContinuousClock.Instant] = []

            for exit in mailbox.takeExits() { handleExit(pid: exit.pid, status: exit.status) }

            if now >= nextTemplateCheck {
                loadTemplate(initial: false)
                nextTemplateCheck = now + Self.templateCheckInterval
            }
            wake.append(nextTemplateCheck)

            if let times = mailbox.pendingTimes {
                let due = min(times.last + config.debounceQuiet, times.first + config.debounceMax)
                if now >= due, let taken = mailbox.takeMembers() {
                    latestMembers = taken.members
                    latestNumber = taken.number
                    if batchStartedAt == nil { batchStartedAt = times.first }
                    dirty = true
                } else {
                    wake.append(due)
                }
            }
            if let expiry = applied.nextDrainExpiry(drainTimeout: config.drainTimeout) {
                if now >= expiry { dirty = true } else { wake.append(expiry) }
            }
            if let at = retryAt {
                if now >= at {
                    retryAt = nil
                    dirty = true
                } else {
                    wake.append(at)
                }
            }
            var waitingForRestart = false
            if let at = restartAt {
                if now >= at {
                    restartAt = nil
                    dirty = true
                } else {
                    wake.append(at)
                    waitingForRestart = true
                }
            }

            if dirty, latestMembers != nil, !waitingForRestart {
                dirty = false
                await apply()
                continue
            }
            await mailbox.wait(after: seen, until: wake.min(), on: action.eventLoop)
        }
    }

    /// Stops the HAProxy this action started; connections in flight get `drain_timeout` (at most 10 s) to finish.
    func shutdown() async {
        guard let master else { return }
        self.master = nil
        let grace = min(config.drainTimeout, .seconds(10))
        logger.info("stopping HAProxy", metadata: ["pid": "\(master.pid)"])
        _ = await offload { () throws(HAProxyActionError) in master.stop(grace: grace) }
    }

    // MARK: Apply

    private func apply() async {
        guard let members = latestMembers else { return }
        guard let renderer else { return }  // the template never parsed; its error was logged
        let now = ContinuousClock.now
        let (backends, rejectedMembers) = selector.select(members)
        reportRejected(rejectedMembers)
        let plan = applied.planned(
            for: backends, now: now, drainTimeout: config.drainTimeout, minimumSlots: config.slots)
        let localTags = members.first { $0.name == action.nodeName }?.tags ?? [:]
        let context = HAProxyTemplateContext.make(
            configuration: config, table: plan, backends: backends, localName: action.nodeName,
            localTags: localTags, templateName: renderer.name)
        let text = renderer.render(context)

        let needsStart = config.apply.startsHAProxy && master == nil
        let needsLoad = config.apply != .none && config.apply != .runtime && text != loadedText
        if text == installedText && plan == applied && !needsStart && !needsLoad {
            action.updateStatistics { $0.unchanged += 1 }
            finishBatch(now: now)
            return
        }

        if config.apply == .runtime,
            let problem = StructureKey.runtimeProblem(
                text, backend: config.backendName, slotCount: plan.slots.count, statsSocket: config.statsSocket)
        {
            report(.unsuitableTemplate(template: renderer.name, reason: problem), rejected: true)
            finishBatch(now: now)
            return
        }
        if text != installedText {
            let installer = self.installer
            let name = renderer.name
            let result = await offload { () throws(HAProxyActionError) in
                try installer.install(text, templateName: name)
            }
            if case .failure(let error) = result {
                // Not retried on a timer: the same members render the same text. The next change or a template
                // edit tries again.
                report(error, rejected: true)
                finishBatch(now: now)
                return
            }
            installedText = text
            action.updateStatistics { $0.writes += 1 }
        }

        do {
            switch config.apply {
            case .none:
                break
            case .signal:
                if text != loadedText {
                    try signalReload()
                    loadedText = text
                }
            case .reload:
                if master == nil {
                    try await startMaster()
                } else if text != loadedText {
                    try await reload()
                }
                loadedText = text
            case .runtime:
                let key = StructureKey.of(text, backend: config.backendName)
                if master == nil {
                    try await startMaster()
                    loadedKey = key
                    try await reconcile(plan)
                } else if key != loadedKey || plan.slots.count != applied.slots.count {
                    try await reload()
                    loadedKey = key
                    try await reconcile(plan)
                } else {
                    do {
                        try await pushRuntime(from: applied, to: plan)
                        // Catches drift (someone used the stats page or socket by hand); normally a no-op.
                        try await reconcile(plan)
                    } catch {
                        logger.warning("runtime update failed, reloading instead: \(error)")
                        try await reload()
                        try await reconcile(plan)
                    }
                }
                loadedText = text
            }
        } catch {
            report(error, rejected: false)
            if config.apply.startsHAProxy && master == nil {
                scheduleRestart(now: ContinuousClock.now)
            } else {
                // Backing off keeps a persistent failure from turning into a reload every second.
                retryAt = ContinuousClock.now + retryBackoff
                retryBackoff = min(retryBackoff * 2, .seconds(60))
            }
            finishBatch(now: now)
            return
        }
        applied = plan
        retryBackoff = .seconds(1)
        if let templateError {
            logger.warning(
                "rendered with the last good template; \(renderer.name) still has an error: \(templateError)")
        } else if failing {
            failing = false
            logger.notice("HAProxy configuration applied again after the earlier error")
        }
        let stillBroken = templateError?.description
        action.updateStatistics {
            $0.lastError = stillBroken
            if let start = self.batchStartedAt { $0.lastApplyLatency = ContinuousClock.now - start }
        }
        finishBatch(now: now)
    }

    private func finishBatch(now: ContinuousClock.Instant) {
        batchStartedAt = nil
        let number = latestNumber
        action.updateStatistics {
            $0.applies += 1
            $0.appliedSnapshot = number
        }
    }

    // MARK: HAProxy

    private func startMaster() async throws(HAProxyActionError) {
        let config = self.config
        let pool = self.pool
        let logger = self.logger
        let mailbox = self.mailbox
        let result = await offload { () throws(HAProxyActionError) in
            try HAProxyMaster.start(configuration: config, pool: pool, logger: logger) { pid, status in
                mailbox.postExit(pid: pid, status: status)
            }
        }
        let started = try result.get()
        master = started
        masterStartedAt = .now
        let restarted = crashed
        crashed = false
        action.updateStatistics {
            $0.starts += 1
            if restarted { $0.restarts += 1 }
        }
        logger.info(
            "HAProxy started", metadata: ["pid": "\(started.pid)", "config": "\(config.output)"])
    }

    private func reload() async throws(HAProxyActionError) {
        guard let master else { throw .reloadFailed(reason: "HAProxy is not running") }
        let api = master.api
        let list = try await offload { () throws(HAProxyActionError) in try api.reload() }.get()
        action.updateStatistics { $0.reloads += 1 }
        logger.info("HAProxy reloaded", metadata: ["workers": "\(list.workers)", "reloads": "\(list.reloads)"])
    }

    private func signalReload() throws(HAProxyActionError) {
        let path = config.pidFile ?? ""
        let text = try HAProxyActionError.onFile { () throws(FileError) in try DurableFile.readText(path) }
            .trimmingSpaces()
        guard let pid = Int32(text.split(separator: "\n").first.map(String.init) ?? ""), pid > 1 else {
            throw .reloadFailed(reason: "\(path) does not hold a pid")
        }
        guard kill(pid, SIGUSR2) == 0 else {
            throw .reloadFailed(reason: "SIGUSR2 to pid \(pid) from \(path): \(errnoDescription(errno))")
        }
        action.updateStatistics { $0.reloads += 1 }
        logger.info("sent SIGUSR2 to HAProxy", metadata: ["pid": "\(pid)"])
    }

    /// Pushes slot changes through the runtime API: no reload, no new process, nothing dropped.
    private func pushRuntime(from old: SlotTable, to new: SlotTable) async throws(HAProxyActionError) {
        let commands = new.runtimeCommands(from: old, backend: config.backendName)
        guard !commands.isEmpty else { return }
        guard let api = master?.api else { throw .reloadFailed(reason: "HAProxy is not running") }
        try await offload { () throws(HAProxyActionError) in
            for command in commands { try api.execute(command) }
        }.get()
        action.updateStatistics {
            $0.runtimeApplies += 1
            $0.runtimeCommands += commands.count
        }
        logger.info("HAProxy servers updated at run time", metadata: ["commands": "\(commands)"])
    }

    /// Makes the running servers match `plan`, whatever HAProxy loaded: after a start or reload, and as the
    /// fallback when HAProxy restarted with a state rumor did not set.
    private func reconcile(_ plan: SlotTable) async throws(HAProxyActionError) {
        guard let api = master?.api else { return }
        let backend = config.backendName
        let commands = try await offload { () throws(HAProxyActionError) -> [String] in
            let actual = try api.serversState(backend: backend)
            var commands: [String] = []
            for (i, slot) in plan.slots.enumerated() {
                let name = SlotTable.serverName(index: i)
                guard let server = actual[name] else {
                    throw .runtimeAPI(
                        socket: api.statsSocket, command: "show servers state \(backend)",
                        message: "server \(backend)/\(name) is missing: does the template render every slot?")
                }
                if let member = slot.member {
                    let moved = server.address != member.host || server.port != member.port
                    if moved {
                        commands.append("set server \(backend)/\(name) addr \(member.host) port \(member.port)")
                    }
                    if moved || server.state != slot.state {
                        commands.append("set server \(backend)/\(name) state \(slot.state.rawValue)")
                    }
                } else if server.state != .maint {
                    commands.append("set server \(backend)/\(name) state maint")
                }
            }
            for command in commands { try api.execute(command) }
            return commands
        }.get()
        if !commands.isEmpty {
            action.updateStatistics { $0.runtimeCommands += commands.count }
            logger.debug("reconciled HAProxy servers", metadata: ["commands": "\(commands)"])
        }
    }

    private func handleExit(pid: Int32, status: ExitStatus) {
        guard let master, master.pid == pid else { return }
        self.master = nil
        loadedKey = nil
        loadedText = nil
        crashed = true
        let now = ContinuousClock.now
        if let started = masterStartedAt, now - started > .seconds(60) { restartBackoff = .zero }
        logger.error(
            "HAProxy exited unexpectedly (\(status)); restarting",
            metadata: ["pid": "\(pid)", "output": "\(master.recentOutput)"])
        action.updateStatistics { $0.lastError = "HAProxy exited unexpectedly (\(status))" }
        scheduleRestart(now: now)
    }

    private func scheduleRestart(now: ContinuousClock.Instant) {
        restartAt = now + restartBackoff
        restartBackoff = min(max(restartBackoff * 2, .seconds(1)), .seconds(30))
        dirty = true
    }

    // MARK: Template and errors

    private func loadTemplate(initial: Bool) {
        let path = config.template
        let fingerprint = path.hasPrefix("builtin:") ? [] : FileSystem.fingerprint(path)
        if !initial, fingerprint == templateFingerprint { return }
        templateFingerprint = fingerprint
        do {
            renderer = try HAProxyTemplateRenderer.load(path)
            templateError = nil
            if !initial {
                logger.info("template changed; rendering again", metadata: ["template": "\(path)"])
                dirty = true
            }
        } catch {
            // Keep rendering with the last good template, so membership is still followed while it is fixed.
            templateError = error
            report(error, rejected: true)
        }
    }

    private func reportRejected(_ rejected: [(name: String, reason: String)]) {
        var now: [String: String] = [:]
        for r in rejected {
            now[r.name] = r.reason
            if reportedRejections[r.name] != r.reason {
                logger.warning("member left out of HAProxy: \(r.reason)", metadata: ["member": "\(r.name)"])
            }
        }
        reportedRejections = now
    }

    private func report(_ error: HAProxyActionError, rejected: Bool) {
        failing = true
        logger.error("\(error)")
        action.updateStatistics {
            $0.lastError = error.description
            if rejected { $0.rejected += 1 }
        }
    }

    /// Runs blocking work on the pool. Unlike `NIOThreadPool.runIfActive`, it also runs when the calling task is
    /// already cancelled, which the shutdown path needs (stopping HAProxy must not be skipped).
    private func offload<T: Sendable>(
        _ body: @escaping @Sendable () throws(HAProxyActionError) -> T
    ) async -> Result<T, HAProxyActionError> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, HAProxyActionError>, Never>) in
            pool.submit { state in
                guard case .active = state else {
                    continuation.resume(returning: .failure(.reloadFailed(reason: "the action is shutting down")))
                    return
                }
                continuation.resume(returning: Result { () throws(HAProxyActionError) in try body() })
            }
        }
    }
}
