import Logging
import NIOConcurrencyHelpers
import NIOCore
import RumorApps
import RumorDocker

/// Runs one app on this node: a single-flight loop that observes the engine, asks the reconciler what to do,
/// advertises the ready endpoints and executes the steps. Woken by spec or placement changes and Docker events
/// for the app's containers; otherwise it looks again at the reconciler's deadline or every resync interval.
final class AppWorker: Sendable {
    let app: String
    private let host: any ContainerHost
    private let logger: Logger
    private let wakeup: Wakeup
    private let eventLoop: any EventLoop
    private let resync: Duration
    /// The action's clock origin: member `since` times and the reconciler's times share it.
    private let start: ContinuousClock.Instant
    private let registryAuth: String?

    /// What the loop works towards, set from outside.
    struct Desired: Sendable, Equatable {
        /// nil: the spec is gone (or invalid at first sight): remove this app's containers.
        var spec: AppSpec?
        /// The newest spec from the cluster, which this worker's `apps_allow` refused: `spec` stays what it was.
        var refused: Refused?
        /// The node's tags match the spec's placement.
        var placed = true
        var cores = 1
        var memoryMiB = 0
        /// Bumped by a reload: forget back-offs and give-ups.
        var generation = 0
        /// The cluster as this node sees it, for `replicas` (times on the action's clock).
        var members: [PlacementMember] = []
    }

    struct Refused: Sendable, Equatable {
        var templateHash: String
        var rule: String
    }

    private let desired: NIOLockedValueBox<Desired>
    /// Containers being withdrawn and stopped beside the loop: their stop grace (10 s by default, all of it for an
    /// image that ignores SIGTERM) must not hold up the next step. The loop plans as if they were gone.
    private let stopping = NIOLockedValueBox<Set<String>>([])
    /// Containers whose health check the worker is running (engines that do not run them: Podman without systemd).
    private let checking = NIOLockedValueBox<Set<String>>([])
    private let docker: NIOLockedValueBox<(any ContainerEngine)?>
    let status: NIOLockedValueBox<AppStatus>

    init(app: String, desired: Desired, host: any ContainerHost, resync: Duration, registryAuth: String?, logger: Logger,
         epoch: ContinuousClock.Instant, eventLoop: any EventLoop) {
        self.app = app
        self.eventLoop = eventLoop
        self.wakeup = Wakeup(eventLoop: eventLoop)
        self.start = epoch
        self.host = host
        self.resync = resync
        self.registryAuth = registryAuth
        self.logger = logger
        self.desired = NIOLockedValueBox(desired)
        self.docker = NIOLockedValueBox(nil)
        self.status = NIOLockedValueBox(AppStatus(app: app, image: desired.spec?.image ?? ""))
    }

    func update(_ change: (inout Desired) -> Void) {
        let changed = desired.withLockedValue { d -> Bool in
            let before = d
            change(&d)
            return d != before
        }
        if changed { wakeup.signal() }
    }

    /// The engine is (back) up, or gone (nil, and why).
    func use(_ client: (any ContainerEngine)?, reason: String? = nil) {
        docker.withLockedValue { $0 = client }
        if client == nil { status.withLockedValue { $0.engineError = reason ?? "the Docker engine is not reachable" } }
        wakeup.signal()
    }

    func poke() { wakeup.signal() }

    /// Whether the first look at the engine has been advertised (see ContainerAction.ready).
    var hasAdvertised: Bool { status.withLockedValue { $0.advertised } }

    /// The spec the worker runs (nil once removed).
    var specInUse: AppSpec? { desired.withLockedValue { $0.spec } }

    private var now: Duration { ContinuousClock.now - start }

    /// A slot that failed this many times in a row on the spec it runs (or gave up) fails a rollout of that spec.
    static let failuresForRollout = 3

    /// Creates in flight at once for one app (the engine serializes much of each anyway).
    static let concurrentCreates = 6

    /// Runs until cancelled; with the spec gone it removes the app's containers and returns.
    func run() async {
        var reconciler = AppReconciler()
        var applied = Desired()
        var advertised: [String: String?]?  // the app and run tags as last published; nil: not yet
        var lastSpec: AppSpec?  // the last spec the worker ran
        var nextCheck: [String: Duration] = [:]  // container → when its health check is due (see runChecks)
        while !Task.isCancelled {
            let want = desired.withLockedValue { $0 }
            if want.generation != applied.generation || want.spec?.templateHash != applied.spec?.templateHash {
                reconciler.reset()
            }
            applied = want
            if let spec = want.spec { lastSpec = spec }
            guard let docker = docker.withLockedValue({ $0 }) else {
                await wakeup.wait(timeout: resync)
                continue
            }
            var wake = resync
            do {
                let present = try await observe(docker)
                if !docker.runsHealthchecks, let due = runChecks(present, due: &nextCheck, docker: docker) {
                    wake = min(wake, max(.milliseconds(10), due - now))
                }
                let leaving = stopping.withLockedValue { $0 }
                let observed = present.filter { !leaving.contains($0.id) }
                // With the spec gone (a stop), its containers still go with its own drain and stop grace.
                let spec = want.spec ?? lastSpec ?? AppSpec(name: app, image: "")
                let (slots, recheckAt) = wanted(want, spec: spec)
                let count = slots.count
                let plan = reconciler.plan(spec: spec, slots: slots, observed: observed, now: now)
                for notice in plan.notices { fire(notice) }
                let value = plan.endpoints.isEmpty ? nil : AppTag.value(plan.endpoints)
                // What a rolling deploy needs from this node: the spec it runs and whether that has settled.
                let failing = reconciler.history.values.contains { $0.gaveUp || $0.failures >= Self.failuresForRollout }
                // With the spec gone, `-` until the last container is removed: `stop --wait` waits for the tag to go.
                let run = want.refused.map { RunTag.value(templateHash: $0.templateHash, state: .refused, rule: $0.rule) }
                    ?? want.spec.map { spec in
                        RunTag.value(templateHash: spec.templateHash,
                                     state: failing ? .failed : plan.converged ? .converged : .progressing)
                    }
                    ?? (present.isEmpty ? nil : RunTag.value(templateHash: "-", state: .progressing))
                let tags = [AppTag.key(app: app): value, RunTag.key(app: app): run]
                if advertised != tags {
                    do {
                        try await host.setTags(tags)
                        advertised = tags
                        status.withLockedValue { $0.advertiseError = nil; $0.advertised = true }
                    } catch {
                        logger.error("apps: \(app): cannot advertise \(value ?? "nothing"): \(error)")
                        status.withLockedValue { $0.advertiseError = "\(error)" }
                    }
                }
                status.withLockedValue {
                    $0.update(spec: want.spec, wanted: count, observed: observed, history: reconciler.history, converged: plan.converged)
                    $0.engineError = nil
                }
                if want.spec == nil && want.refused == nil && present.isEmpty { return }
                var names = Set(present.map(\.name))
                let running = Set(present.filter(\.running).map(\.id))
                // Creates go at once, a few at a time (Swarm starts a service's tasks in parallel too): one after
                // another, each create and start's round trips add up to seconds for a handful of replicas.
                var creates: [Int] = []
                for step in plan.steps {
                    if case .create(let slot) = step { creates.append(slot); continue }
                    await execute(step, spec: spec, docker: docker, reconciler: &reconciler, names: &names, running: running)
                }
                for batch in stride(from: 0, to: creates.count, by: Self.concurrentCreates) {
                    let slots = creates[batch..<min(batch + Self.concurrentCreates, creates.count)]
                    let named = slots.map { slot in
                        let name = spec.containerName(slot: slot, node: host.nodeName, taken: names)
                        names.insert(name)
                        return (slot, name)
                    }
                    let failures = await withTaskGroup(of: (Int, String)?.self) { group in
                        for (slot, name) in named {
                            group.addTask { await self.create(slot: slot, name: name, spec: spec, docker: docker, replacing: nil).map { (slot, $0) } }
                        }
                        return await group.reduce(into: [(Int, String)]()) { if let f = $1 { $0.append(f) } }
                    }
                    for (slot, message) in failures { reconciler.failed(slot: slot, message: message, spec: spec, now: now) }
                }
                if !plan.steps.isEmpty { continue }
                for at in [plan.wakeAt, recheckAt].compactMap({ $0 }) { wake = min(wake, max(.milliseconds(10), at - now)) }
            } catch where Task.isCancelled {
                return
            } catch let error as DockerError where error.isEngineDown {
                status.withLockedValue { $0.engineError = error.description }
            } catch {
                logger.error("apps: \(app): \(error)")
                status.withLockedValue { $0.engineError = "\(error)" }
            }
            await wakeup.wait(timeout: wake)
        }
    }

    /// Runs the health checks that are due (an engine that does not: see ContainerEngine.runsHealthchecks), each
    /// beside the loop, which looks again when it is done; the first one interval after the container is first
    /// seen, as Docker does after a start. Returns when the next one is due.
    private func runChecks(_ present: [ObservedContainer], due: inout [String: Duration], docker: any ContainerEngine) -> Duration? {
        let at = now
        due = due.filter { id, _ in present.contains { $0.id == id && $0.running } }
        for c in present where c.running {
            guard let interval = c.healthInterval else { continue }
            guard let when = due[c.id] else { due[c.id] = at + interval; continue }
            guard at >= when, checking.withLockedValue({ $0.insert(c.id).inserted }) else { continue }
            due[c.id] = at + interval
            let id = c.id
            Task {
                do { try await docker.runHealthcheck(id) } catch {
                    logger.debug("apps: \(app): health check of \(id.prefix(12)): \(error)")
                }
                checking.withLockedValue { _ = $0.remove(id) }
                wakeup.signal()
            }
        }
        return due.values.min()
    }

    /// The slots this node should run: 1...N of Nebula's per-node count, or its share of `replicas` by rendezvous
    /// hashing over the members (every node computes the same split from the same view; see ReplicaPlacement).
    private func wanted(_ want: Desired, spec: AppSpec) -> (Set<Int>, recheckAt: Duration?) {
        guard want.spec != nil else { return ([], nil) }
        guard spec.replicas != nil else {
            let n = want.placed ? spec.containerCount(cores: want.cores, memoryMiB: want.memoryMiB) : 0
            return (n > 0 ? Set(1...n) : [], nil)
        }
        var ready: [Int: Set<String>] = [:]
        for member in want.members {
            guard let value = member.tags[AppTag.key(app: app)] else { continue }
            for endpoint in AppTag.parse(value).endpoints { ready[endpoint.slot, default: []].insert(member.name) }
        }
        var settings = ReplicaPlacement.Settings(spec: spec)
        // Host ports are per slot: two nodes on one engine cannot both hold a slot's port, so hand over stop-first.
        if !spec.ports.isEmpty, case .host = spec.advertise { settings.handoff = .stopFirst }
        let result = ReplicaPlacement.compute(settings, members: want.members, ready: ready, now: now)
        return (Set(result.slots(of: host.nodeName)), result.recheckAt)
    }

    private func observe(_ docker: any ContainerEngine) async throws -> [ObservedContainer] {
        let listed = try await docker.listContainers(labels: ["\(RumorLabel.app)=\(app)", "\(RumorLabel.node)=\(host.nodeName)"])
        var observed: [ObservedContainer] = []
        for summary in listed {
            do { observed.append(ObservedContainer(try await docker.inspect(summary.id))) } catch let e as DockerError where e.isNotFound {
                continue  // removed between list and inspect
            }
        }
        return observed
    }

    /// `names`: the names containers of this app have now (a new one takes a free one); `running`: which run.
    private func execute(_ step: AppReconciler.Step, spec: AppSpec, docker: any ContainerEngine, reconciler: inout AppReconciler,
                         names: inout Set<String>, running: Set<String>) async {
        switch step {
        case .create(let slot):
            await create(slot: slot, spec: spec, docker: docker, reconciler: &reconciler, replacing: nil, names: &names)
        case .remove(let id, let name, let drain, let reason):
            logger.info("apps: \(app): removing \(name) (\(reason))")
            stopInBackground(id: id, name: name, drain: drain, spec: spec, docker: docker)
        case .discard(let id, let name, let reason):
            logger.info("apps: \(app): removing \(name), which never became ready (\(reason))")
            var graceless = spec
            graceless.stopGrace = .zero
            stopInBackground(id: id, name: name, drain: false, spec: graceless, docker: docker)
        case .replace(let id, let name, let slot, let drain, let reason):
            logger.info("apps: \(app): replacing \(name) (\(reason))")
            if spec.bindsHostPorts || !running.contains(id) {
                // The new container binds the slot's host port: only once the old one is gone. (An exited one goes
                // at once, and the slot keeps its name.)
                guard await stopAndRemove(id: id, name: name, drain: drain, spec: spec, docker: docker) else { return }
                names.remove(name)
            } else {
                // Stop-first still withdraws the old container (drain) before the new one starts; its stop grace
                // runs beside the new one's start instead of before it.
                if drain, spec.drain > .zero { await Wakeup.sleep(for: spec.drain, on: eventLoop) }
                stopInBackground(id: id, name: name, drain: false, spec: spec, docker: docker)
            }
            await create(slot: slot, spec: spec, docker: docker, reconciler: &reconciler, replacing: id, names: &names)
        }
    }

    /// Stop and remove beside the loop, which plans as if the container were gone and is woken when it is.
    private func stopInBackground(id: String, name: String, drain: Bool, spec: AppSpec, docker: any ContainerEngine) {
        guard stopping.withLockedValue({ $0.insert(id).inserted }) else { return }
        Task {
            await stopAndRemove(id: id, name: name, drain: drain, spec: spec, docker: docker)
            stopping.withLockedValue { _ = $0.remove(id) }
            wakeup.signal()
        }
    }

    @discardableResult
    private func stopAndRemove(id: String, name: String, drain: Bool, spec: AppSpec, docker: any ContainerEngine) async -> Bool {
        // The endpoint was withdrawn when the plan was published; give load balancers time to let go of it.
        if drain, spec.drain > .zero { await Wakeup.sleep(for: spec.drain, on: eventLoop) }
        do {
            try await docker.stop(id, grace: spec.stopGrace)
        } catch let e as DockerError where e.isNotFound {
        } catch {
            logger.warning("apps: \(app): stop \(name): \(error)")
        }
        do {
            try await docker.remove(id)
            return true
        } catch {
            logger.error("apps: \(app): remove \(name): \(error)")
            return false
        }
    }

    private func create(slot: Int, spec: AppSpec, docker: any ContainerEngine, reconciler: inout AppReconciler, replacing: String?,
                        names: inout Set<String>) async {
        let name = spec.containerName(slot: slot, node: host.nodeName, taken: names)
        names.insert(name)
        if let message = await create(slot: slot, name: name, spec: spec, docker: docker, replacing: replacing) {
            reconciler.failed(slot: slot, message: message, spec: spec, now: now)
        }
    }

    /// Creates and starts the slot's container; nil, or why it failed (what was made of it is removed again).
    private func create(slot: Int, name: String, spec: AppSpec, docker: any ContainerEngine, replacing: String?) async -> String? {
        var created: String?
        do {
            if try await docker.imageID(spec.image) == nil {
                logger.info("apps: \(app): pulling \(spec.image)")
                do { try await docker.pull(spec.image, registryAuth: registryAuth) } catch let e as DockerError {
                    throw e.during("pull \(spec.image)")
                }
            }
            let id: String
            do { id = try await docker.create(name: name, spec.containerConfig(slot: slot, node: host.nodeName)) } catch let e as DockerError {
                throw e.during("create \(name)")
            }
            created = id
            do { try await docker.start(id) } catch let e as DockerError { throw e.during("start \(name)") }
            logger.info("apps: \(app): started \(name) (\(id.prefix(12)))")
            let kind: ContainerEvent.Kind = replacing == nil ? .start : .replaced
            host.fire(ContainerEvent(kind: kind, app: app, container: name, containerID: id, slot: slot))
            return nil
        } catch {
            // A container that was created but did not start is ours: remove it, so the slot is simply missing.
            if let created { try? await docker.remove(created) }
            logger.error("apps: \(app): \(error)")
            return "\(error)"
        }
    }

    private func fire(_ notice: AppReconciler.Notice) {
        let (kind, c): (ContainerEvent.Kind, ObservedContainer)
        switch notice {
        case .exited(let x): (kind, c) = (.exit, x)
        case .unhealthy(let x): (kind, c) = (.unhealthy, x)
        case .healthy(let x): (kind, c) = (.healthy, x)
        }
        if kind != .healthy { logger.warning("apps: \(app): \(c.name) \(kind == .exit ? "exited with code \(c.exitCode)" : "is unhealthy")") }
        host.fire(ContainerEvent(
            kind: kind, app: app, container: c.name, containerID: c.id, slot: c.slot ?? 0,
            exitCode: kind == .exit ? c.exitCode : nil))
    }
}
