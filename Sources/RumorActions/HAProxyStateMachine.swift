import RumorCore

/// Every decision of the HAProxy action, as a value fed with the time and what happened: when to check the
/// template, when a burst of membership changes is over, when to render, what an apply must do in the configured
/// mode, and when to retry or restart after a failure. No IO and no clock: `HAProxyPipeline` (the driver) reads
/// the clock, does what `next` and `decide` say, and reports each outcome back, so the rules are tested without
/// sleeping (HAProxyStateMachineTests).
struct HAProxyStateMachine {
    /// How often the template file is checked for edits (a fixed template is picked up without a member change).
    static let templateCheckInterval = Duration.seconds(1)
    /// Retries of a failed reload or runtime update start here and double up to `maximumRetryBackoff`.
    static let initialRetryBackoff = Duration.seconds(1)
    static let maximumRetryBackoff = Duration.seconds(60)
    /// Restarts of an HAProxy that died: the first at once, then 1 s doubling up to 30 s; an HAProxy that ran
    /// longer than `stableRun` before dying starts the ladder over.
    static let maximumRestartBackoff = Duration.seconds(30)
    static let stableRun = Duration.seconds(60)

    typealias Instant = ContinuousClock.Instant

    /// What the driver does next.
    enum Step: Equatable {
        /// Look at the template file (`templateChecked` must follow, or the check is asked for again).
        case checkTemplate
        /// The burst of member changes is over: take the latest snapshot and hand it to `membersTaken`.
        case takeMembers
        /// Render and apply (`decide`, then the outcome events).
        case apply
        /// Nothing to do until something is posted or `until` (nil: only a post wakes the driver).
        case wait(until: Instant?)
    }

    /// What one apply must do, from the render and what HAProxy has.
    enum Decision: Equatable {
        /// Same file, same slots, HAProxy has it: nothing to do.
        case unchanged
        /// The render cannot work in runtime mode (`StructureKey.runtimeProblem`); nothing is touched.
        case unsuitable(reason: String)
        case apply(Steps)
    }

    /// The IO of one apply, in order: install the file, bring it to HAProxy, then make the servers match.
    struct Steps: Equatable {
        var install: Bool
        var load: Load
        /// Runtime mode: set each slot's server through the runtime API after the load (start, reload or update).
        var reconcile: Bool
        /// Runtime mode: the render's structure key, recorded by `haproxyLoaded` after a start or reload.
        var structureKey: String?
    }

    enum Load: Equatable {
        /// Nothing reaches HAProxy (mode `none`, or it already runs this file).
        case nothing
        /// SIGUSR2 to the pid in `pid_file` (mode `signal`).
        case signal
        /// Start the HAProxy this action supervises.
        case start
        /// Hitless reload through the master CLI.
        case reload
        /// Runtime mode, same structure: push the slot changes through the runtime API (on failure, reload).
        case runtimeUpdate
    }

    /// What a failed apply led to.
    enum Recovery: Equatable {
        /// The HAProxy this action runs is not running: start it again at `at`.
        case restart(at: Instant)
        /// Apply again at `at` (a persistent failure must not turn into a reload every second).
        case retry(at: Instant)
    }

    let configuration: HAProxyActionConfiguration

    /// The latest member snapshot taken, and its number (for `appliedSnapshot`).
    private(set) var members: [Member]?
    private(set) var membersNumber = 0
    /// Something changed since the last apply (members, template, a drain ran out, a retry or restart is due).
    private(set) var dirty = false
    /// The first change of the batch being applied, for the apply latency.
    private(set) var batchStartedAt: Instant?
    private(set) var nextTemplateCheck: Instant
    private var templateFingerprint: [Int]?
    private var templateLoadRequested = true

    private(set) var retryAt: Instant?
    private(set) var retryBackoff = HAProxyStateMachine.initialRetryBackoff
    private(set) var restartAt: Instant?
    private(set) var restartBackoff = Duration.zero

    /// The HAProxy this action started, while it runs.
    private(set) var haproxyPID: Int32?
    private var haproxyStartedAt: Instant?
    /// HAProxy died since the last start: the next start counts as a restart.
    private var crashed = false

    /// Slots as HAProxy has them, the file on disk, and what the running HAProxy loaded.
    private(set) var applied = SlotTable(count: 0)
    private(set) var installedText: String?
    private(set) var loadedText: String?
    private(set) var loadedKey: String?

    /// An error was reported and no apply succeeded since (to say once that it works again).
    private(set) var failing = false
    private var reportedRejections: [String: String] = [:]

    init(configuration: HAProxyActionConfiguration, now: Instant) {
        self.configuration = configuration
        nextTemplateCheck = now + Self.templateCheckInterval
    }

    // MARK: Scheduling

    /// The next thing to do at `now`, given the first and last change of the member snapshot waiting in the
    /// mailbox. A snapshot is taken once changes have been quiet for `debounce.quiet`, and never later than
    /// `debounce.max` after the first one, so a burst costs one render.
    mutating func next(now: Instant, pending: (first: Instant, last: Instant)?) -> Step {
        if now >= nextTemplateCheck { return .checkTemplate }
        var wake = [nextTemplateCheck]
        if let pending {
            let due = min(pending.last + configuration.debounceQuiet, pending.first + configuration.debounceMax)
            if now >= due { return .takeMembers }
            wake.append(due)
        }
        if let expiry = applied.nextDrainExpiry(drainTimeout: configuration.drainTimeout) {
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
        if dirty, members != nil, !waitingForRestart {
            dirty = false
            return .apply
        }
        return .wait(until: wake.min())
    }

    /// The template was looked at at `now` (`fingerprint`: its file's identity, nil if missing); returns whether
    /// it must be loaded: the first time, after `reloadRequested`, or when the file changed.
    mutating func templateChecked(fingerprint: [Int]?, at now: Instant) -> Bool {
        nextTemplateCheck = now + Self.templateCheckInterval
        guard templateLoadRequested || fingerprint != templateFingerprint else { return false }
        templateLoadRequested = false
        templateFingerprint = fingerprint
        return true
    }

    /// A changed template parsed: render again.
    mutating func templateReloaded() {
        dirty = true
    }

    /// Asks for a render now (SIGHUP): the template is checked at once even if its file looks unchanged, and a
    /// pending retry does not wait out its back-off. A restart back-off still holds.
    mutating func reloadRequested(at now: Instant) {
        nextTemplateCheck = now
        templateLoadRequested = true
        if retryAt != nil { retryAt = now }
        dirty = true
    }

    /// The member snapshot numbered `number` was taken from the mailbox; `firstChange` is when its burst began.
    mutating func membersTaken(_ members: [Member], number: Int, firstChange: Instant) {
        self.members = members
        membersNumber = number
        if batchStartedAt == nil { batchStartedAt = firstChange }
        dirty = true
    }

    // MARK: Applying

    /// The slot table for `backends` at `now`, starting from what HAProxy has.
    func plan(for backends: [BackendMember], now: Instant) -> SlotTable {
        applied.planned(
            for: backends, now: now, drainTimeout: configuration.drainTimeout, minimumSlots: configuration.slots)
    }

    /// What applying `text` with the slots `plan` takes in the configured mode.
    func decide(text: String, plan: SlotTable) -> Decision {
        let mode = configuration.apply
        let running = haproxyPID != nil
        let needsStart = mode.startsHAProxy && !running
        let needsLoad = mode != .none && mode != .runtime && text != loadedText
        if text == installedText && plan == applied && !needsStart && !needsLoad { return .unchanged }
        if mode == .runtime,
            let problem = StructureKey.runtimeProblem(
                text, backend: configuration.backendName, slotCount: plan.slots.count,
                statsSocket: configuration.statsSocket)
        {
            return .unsuitable(reason: problem)
        }
        var steps = Steps(install: text != installedText, load: .nothing, reconcile: false, structureKey: nil)
        switch mode {
        case .none:
            break
        case .signal:
            if text != loadedText { steps.load = .signal }
        case .reload:
            if !running {
                steps.load = .start
            } else if text != loadedText {
                steps.load = .reload
            }
        case .runtime:
            let key = StructureKey.of(text, backend: configuration.backendName)
            steps.structureKey = key
            steps.reconcile = true
            if !running {
                steps.load = .start
            } else if key != loadedKey || plan.slots.count != applied.slots.count {
                // Another structure, or more slots than HAProxy has servers: only a reload can do it.
                steps.load = .reload
            } else {
                steps.load = .runtimeUpdate
            }
        }
        return .apply(steps)
    }

    /// The file was installed at `output`.
    mutating func installed(_ text: String) {
        installedText = text
    }

    /// The HAProxy this action supervises started as `pid`; returns whether that was a restart after it died.
    mutating func haproxyStarted(pid: Int32, at now: Instant) -> Bool {
        haproxyPID = pid
        haproxyStartedAt = now
        defer { crashed = false }
        return crashed
    }

    /// HAProxy loaded a file whose structure key is `key` (after a start or reload, before the servers are set).
    mutating func haproxyLoaded(structureKey key: String?) {
        if let key { loadedKey = key }
    }

    /// `pid` exited at `now`. Returns false when it is not the HAProxy this action runs (a stale exit); otherwise
    /// HAProxy is started again after the restart back-off.
    mutating func haproxyExited(pid: Int32, at now: Instant) -> Bool {
        guard let running = haproxyPID, running == pid else { return false }
        haproxyPID = nil
        loadedKey = nil
        loadedText = nil
        crashed = true
        if let started = haproxyStartedAt, now - started > Self.stableRun { restartBackoff = .zero }
        scheduleRestart(at: now)
        return true
    }

    /// The HAProxy this action started was stopped on purpose (shutdown): no restart.
    mutating func haproxyStopped() {
        haproxyPID = nil
        restartAt = nil
    }

    /// Every step of the apply worked: HAProxy has `text` with the slots `plan`. Returns whether this ends an
    /// earlier failure (to log once that it works again); with `templateBroken` the failure is not over yet.
    mutating func applySucceeded(text: String, plan: SlotTable, templateBroken: Bool) -> Bool {
        if configuration.apply != .none { loadedText = text }
        applied = plan
        retryBackoff = Self.initialRetryBackoff
        guard failing, !templateBroken else { return false }
        failing = false
        return true
    }

    /// A step of the apply failed at `now` (after `errorReported`).
    mutating func applyFailed(at now: Instant) -> Recovery {
        if configuration.apply.startsHAProxy && haproxyPID == nil {
            return .restart(at: scheduleRestart(at: now))
        }
        let at = now + retryBackoff
        retryAt = at
        retryBackoff = min(retryBackoff * 2, Self.maximumRetryBackoff)
        return .retry(at: at)
    }

    /// The apply is over, whatever its outcome; returns the number of the snapshot it applied.
    mutating func finishBatch() -> Int {
        batchStartedAt = nil
        return membersNumber
    }

    // MARK: Reporting

    /// An error was logged: the next success says so.
    mutating func errorReported() {
        failing = true
    }

    /// The members left out of HAProxy whose reason is new since the last render (to log each once).
    mutating func newRejections(_ rejected: [(name: String, reason: String)]) -> [(name: String, reason: String)] {
        var now: [String: String] = [:]
        var new: [(name: String, reason: String)] = []
        for r in rejected {
            now[r.name] = r.reason
            if reportedRejections[r.name] != r.reason { new.append(r) }
        }
        reportedRejections = now
        return new
    }

    // MARK: Internals

    @discardableResult
    private mutating func scheduleRestart(at now: Instant) -> Instant {
        let at = now + restartBackoff
        restartAt = at
        restartBackoff = min(max(restartBackoff * 2, .seconds(1)), Self.maximumRestartBackoff)
        dirty = true
        return at
    }
}
