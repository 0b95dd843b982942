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

/// The action's single consumer and the thin driver of `HAProxyStateMachine`: it reads the clock, feeds the
/// machine what happened (member snapshots, template edits, HAProxy exits, outcomes of each step) and carries out
/// what the machine decides (render → install → start, reload or runtime update), logging and counting as it goes.
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

    private var state: HAProxyStateMachine
    private var renderer: HAProxyTemplateRenderer?
    /// Set while the template on disk does not parse (the last good one is used meanwhile).
    private var templateError: HAProxyActionError?
    private var master: HAProxyMaster?

    init(action: HAProxyAction, pool: NIOThreadPool) throws {
        self.action = action
        self.config = action.configuration
        self.pool = pool
        self.selector = try MemberSelector(configuration: config)
        self.installer = ConfigInstaller(
            output: config.output, checkCommand: config.checkCommand, haproxyBinary: config.haproxyBinary)
        self.state = HAProxyStateMachine(configuration: config, now: .now)
        checkTemplate(initial: true)
    }

    // MARK: Loop

    /// Runs until the task is cancelled or the action is stopped.
    func runUntilStopped() async {
        while !Task.isCancelled && !mailbox.stopRequested {
            let seen = mailbox.sequence
            for exit in mailbox.takeExits() { handleExit(pid: exit.pid, status: exit.status) }
            if mailbox.takeReloadRequest() {
                logger.info("reload requested; loading the template and rendering again")
                state.reloadRequested(at: .now)
            }
            let pending = mailbox.pendingTimes
            switch state.next(now: .now, pending: pending) {
            case .checkTemplate:
                checkTemplate(initial: false)
            case .takeMembers:
                // Only this loop takes, so what `pending` saw is still there (perhaps with a later change).
                if let taken = mailbox.takeMembers(), let first = pending?.first {
                    state.membersTaken(taken.members, number: taken.number, firstChange: first)
                }
            case .apply:
                await apply()
            case .wait(let until):
                await mailbox.wait(after: seen, until: until, on: action.eventLoop)
            }
        }
    }

    /// Stops the HAProxy this action started; connections in flight get `drain_timeout` (at most 10 s) to finish.
    func shutdown() async {
        guard let master else { return }
        self.master = nil
        state.haproxyStopped()
        let grace = min(config.drainTimeout, .seconds(10))
        logger.info("stopping HAProxy", metadata: ["pid": "\(master.pid)"])
        _ = await offload { () throws(HAProxyActionError) in master.stop(grace: grace) }
    }

    // MARK: Apply

    private func apply() async {
        guard let members = state.members else { return }
        guard let renderer else { return }  // the template never parsed; its error was logged
        let (backends, rejectedMembers) = selector.select(members)
        for r in state.newRejections(rejectedMembers) {
            logger.warning("member left out of HAProxy: \(r.reason)", metadata: ["member": "\(r.name)"])
        }
        let plan = state.plan(for: backends, now: .now)
        let localTags = members.first { $0.name == action.nodeName }?.tags ?? [:]
        let context = HAProxyTemplateContext.make(
            configuration: config, table: plan, backends: backends, localName: action.nodeName,
            localTags: localTags, templateName: renderer.name)
        let text = renderer.render(context)

        let steps: HAProxyStateMachine.Steps
        switch state.decide(text: text, plan: plan) {
        case .unchanged:
            action.updateStatistics { $0.unchanged += 1 }
            return finishBatch()
        case .unsuitable(let reason):
            report(.unsuitableTemplate(template: renderer.name, reason: reason), rejected: true)
            return finishBatch()
        case .apply(let s):
            steps = s
        }

        if steps.install {
            let installer = self.installer
            let name = renderer.name
            let result = await offload { () throws(HAProxyActionError) in
                try installer.install(text, templateName: name)
            }
            if case .failure(let error) = result {
                // Not retried on a timer: the same members render the same text. The next change or a template
                // edit tries again.
                report(error, rejected: true)
                return finishBatch()
            }
            state.installed(text)
            action.updateStatistics { $0.writes += 1 }
        }

        do {
            switch steps.load {
            case .nothing:
                break
            case .signal:
                try signalReload()
            case .start:
                try await startMaster()
                state.haproxyLoaded(structureKey: steps.structureKey)
                if steps.reconcile { try await reconcile(plan) }
            case .reload:
                try await reload()
                state.haproxyLoaded(structureKey: steps.structureKey)
                if steps.reconcile { try await reconcile(plan) }
            case .runtimeUpdate:
                do {
                    try await pushRuntime(from: state.applied, to: plan)
                    // Catches drift (someone used the stats page or socket by hand); normally a no-op.
                    try await reconcile(plan)
                } catch {
                    logger.warning("runtime update failed, reloading instead: \(error)")
                    try await reload()
                    try await reconcile(plan)
                }
            }
        } catch {
            report(error, rejected: false)
            // Backing off keeps a persistent failure from turning into a reload every second.
            _ = state.applyFailed(at: .now)
            return finishBatch()
        }
        if state.applySucceeded(text: text, plan: plan, templateBroken: templateError != nil) {
            logger.notice("HAProxy configuration applied again after the earlier error")
        }
        if let templateError {
            logger.warning(
                "rendered with the last good template; \(renderer.name) still has an error: \(templateError)")
        }
        let stillBroken = templateError?.description
        let started = state.batchStartedAt
        action.updateStatistics {
            $0.lastError = stillBroken
            if let started { $0.lastApplyLatency = ContinuousClock.now - started }
        }
        finishBatch()
    }

    private func finishBatch() {
        let number = state.finishBatch()
        let slots = state.applied.slots
        action.updateStatistics {
            $0.applies += 1
            $0.appliedSnapshot = number
            $0.servers = .init(ready: slots.count { $0.member != nil && $0.state == .ready },
                               draining: slots.count { $0.state == .drain }, free: slots.count { $0.member == nil })
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
        let restarted = state.haproxyStarted(pid: started.pid, at: .now)
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
            let commands: [String]
            do throws(SlotTable.MissingServer) {
                commands = try plan.reconcileCommands(actual: actual, backend: backend)
            } catch {
                throw .runtimeAPI(
                    socket: api.statsSocket, command: "show servers state \(backend)",
                    message: "server \(backend)/\(error.server) is missing: does the template render every slot?")
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
        guard let master, state.haproxyExited(pid: pid, at: .now) else { return }
        self.master = nil
        logger.error(
            "HAProxy exited unexpectedly (\(status)); restarting",
            metadata: ["pid": "\(pid)", "output": "\(master.recentOutput)"])
        action.updateStatistics { $0.lastError = "HAProxy exited unexpectedly (\(status))" }
    }

    // MARK: Template and errors

    private func checkTemplate(initial: Bool) {
        let path = config.template
        let fingerprint = path.hasPrefix("builtin:") ? [] : FileSystem.fingerprint(path)
        guard state.templateChecked(fingerprint: fingerprint, at: .now) else { return }
        do {
            renderer = try HAProxyTemplateRenderer.load(path)
            templateError = nil
            if !initial {
                logger.info("template changed; rendering again", metadata: ["template": "\(path)"])
                state.templateReloaded()
            }
        } catch {
            // Keep rendering with the last good template, so membership is still followed while it is fixed.
            templateError = error
            report(error, rejected: true)
        }
    }

    private func report(_ error: HAProxyActionError, rejected: Bool) {
        state.errorReported()
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
