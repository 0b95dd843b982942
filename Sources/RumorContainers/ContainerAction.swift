import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RumorApps
import RumorCore
import RumorDocker
import RumorSupport

/// `apps_dir`: the app specs this node runs, and how it runs them.
public struct ContainerActionConfiguration: Sendable, Equatable {
    public var appsDir: String
    /// Look at every app this often even without events (Swarm's reconciliation also polls).
    public var resync: Duration = .seconds(30)
    /// How often the apps directory is read for changes.
    public var poll: Duration = .seconds(1)
    /// `X-Registry-Auth` for pulls (base64 JSON, as the docker CLI sends it).
    public var registryAuth: String?
    /// What specs deployed cluster-wide may ask of this host (`apps_allow`); the apps directory is not checked.
    public var policy = AppPolicy()

    public init(appsDir: String) {
        self.appsDir = appsDir
    }
}

/// The container action: runs each app's containers on this node through the Docker Engine API, heals them, and
/// advertises the ready ones in this node's tags. Each app has its own worker, so one app's trouble (a bad spec,
/// a missing image, a taken port) never holds up another. The engine can come and go: workers pause while it is
/// away and reconcile on their own when it returns. Containers outlive the agent and are adopted on restart.
public final class ContainerAction: Sendable {
    public let configuration: ContainerActionConfiguration
    private let host: any ContainerHost
    private let logger: Logger
    private let group: any EventLoopGroup
    private let directory: AppsDirectory

    struct Shared {
        var workers: [String: AppWorker] = [:]
        /// Spec errors of apps that have no worker (invalid from the start).
        var invalid: [String: String] = [:]
        var nodeTags: [String: String] = [:]
        var engine: (any ContainerEngine)?
        var resources = (cores: 1, memoryMiB: 0)
        var generation = 0
        var reloadRequested = false
        var stopRequested = false
        /// The agent left the cluster: this node's containers go with it (see `agentLeft`).
        var decommission = false
        /// The first look is done: the directory was read and the engine answered or failed once.
        var looked = (directory: false, engine: false)
        /// Why the engine is unreachable, while it is.
        var engineDown: String?
        /// Members with the time this node saw each enter its status, for `replicas`.
        var members: [PlacementMember] = []
    }
    /// The clock origin of member times and the workers' reconcilers.
    private let epoch = ContinuousClock.now
    let shared = NIOLockedValueBox(Shared())
    private let directoryWakeup: Wakeup
    /// Reaches the engine (again, after it went away): Docker's socket, Podman's, or a test's in-memory engine.
    private let engine: EngineConnector

    public init(configuration: ContainerActionConfiguration, host: any ContainerHost, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, engine: EngineConnector) {
        self.configuration = configuration
        self.host = host
        self.logger = logger
        self.group = group
        self.engine = engine
        self.directory = AppsDirectory(path: configuration.appsDir)
        self.directoryWakeup = Wakeup(eventLoop: group.next())
    }

    /// Checks what can be checked before the agent starts: the apps directory is readable, the engine's setting
    /// (DOCKER_HOST) is usable.
    public func preflight() throws {
        try engine.check()
        _ = try directory.load()
    }

    /// The node's own tags decide placement; the nodes that run apps (``AppTag/runnerKey``) decide where
    /// `replicas` run.
    public func membersChanged(_ members: [Member]) {
        let now = ContinuousClock.now - epoch
        let (workers, view, tags) = shared.withLockedValue { s -> ([AppWorker], [PlacementMember], [String: String]?) in
            let before = Dictionary(s.members.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            s.members = members.filter { $0.tags[AppTag.runnerKey] != nil }.map { m in
                let status: PlacementMember.Status = switch m.status {
                case .alive: .alive
                case .failed: .failed
                default: .left
                }
                let since = before[m.name].flatMap { $0.status == status ? $0.since : nil } ?? now
                return PlacementMember(name: m.name, status: status, tags: m.tags, since: since)
            }
            let me = members.first { $0.name == host.nodeName }?.tags
            if let me { s.nodeTags = me }
            return (Array(s.workers.values), s.members, me)
        }
        for worker in workers {
            worker.update {
                if let tags { $0.placed = Self.placed($0.spec, tags: tags) }
                $0.members = view
            }
        }
    }

    /// SIGHUP: re-read the specs now and give every slot that gave up a fresh try.
    public func reload() {
        shared.withLockedValue { $0.reloadRequested = true }
        directoryWakeup.signal()
    }

    /// The node left the cluster on purpose (`rumor leave`, SIGINT, or SIGTERM with leave_on_terminate): `run()`
    /// then removes this node's containers before it returns. Its endpoints went out of every load balancer with
    /// the leave, so after the apps' `drain` nobody is sent there any more. A crash or a stop without a leave
    /// keeps them running instead, and other nodes keep a failed node's endpoints: losing an agent never stops a
    /// workload, and a restarted agent adopts them.
    public func agentLeft() {
        shared.withLockedValue { $0.decommission = true }
    }

    /// Once every app has advertised its first look at the engine (a restarted agent: the containers it adopts),
    /// or the engine could not be reached.
    public func ready() async {
        while true {
            let done = shared.withLockedValue { s in
                s.looked.directory && s.looked.engine && (s.engine == nil || s.workers.values.allSatisfy(\.hasAdvertised))
            }
            if done || Task.isCancelled { return }
            await Wakeup.sleep(for: .milliseconds(20), on: group.next())
        }
    }

    /// Makes `run()` return; containers keep running unless the agent left (`agentLeft`).
    public func stop() {
        shared.withLockedValue { $0.stopRequested = true }
        directoryWakeup.signal()
    }

    /// Every app on this node, as `rumor apps ls` shows them.
    public func status() -> JSON {
        let (workers, invalid) = shared.withLockedValue { ($0.workers, $0.invalid) }
        var apps: [(String, JSON)] = workers.map { ($0.key, $0.value.status.withLockedValue { $0.json }) }
        for (app, error) in invalid {
            apps.append((app, .object([("app", .string(app)), ("last_error", .string(error)), ("containers", .array([]))])))
        }
        return .array(apps.sorted { $0.0 < $1.0 }.map(\.1))
    }

    /// The apps directory with the cluster-wide specs over it: a deploy is newer than any file, and a cluster-wide
    /// stop removes the app even where a file still names it. Cluster specs pass this worker's `policy` first.
    static func overlay(_ entries: [String: AppsDirectory.Entry], cluster: [String: [UInt8]],
                        policy: AppPolicy = AppPolicy()) -> [String: AppsDirectory.Entry] {
        var merged = entries
        for (name, bytes) in cluster {
            guard !bytes.isEmpty else {
                merged[name] = nil
                continue
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let spec = try AppSpec.parse(text, name: name, file: "the spec deployed cluster-wide")
                merged[name] = policy.refusal(of: spec).map { .refused(spec, $0) } ?? .spec(spec)
            } catch {
                merged[name] = .invalid("\(error)")
            }
        }
        return merged
    }

    static func placed(_ spec: AppSpec?, tags: [String: String]) -> Bool {
        spec?.isPlaced(onNodeWithTags: tags) ?? false
    }

    /// Runs until the task is cancelled or `stop()`. Containers keep running after it returns, unless the node left.
    public func run() async {
        var specs: [String: AppSpec] = [:]
        host.onClusterAppsChange { [directoryWakeup] in directoryWakeup.signal() }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.followEngine() }
            var known: [String: AppsDirectory.Entry] = [:]
            var first = true
            while !Task.isCancelled, !shared.withLockedValue({ $0.stopRequested }) {
                let reload = shared.withLockedValue { s -> Bool in
                    defer { s.reloadRequested = false }
                    if s.reloadRequested { s.generation += 1 }
                    return s.reloadRequested
                }
                do {
                    let entries = Self.overlay(try directory.load(), cluster: await host.clusterApps(), policy: configuration.policy)
                    if entries != known || reload || first {
                        apply(entries, previous: known, group: &group)
                        known = entries
                    }
                    if first { first = false; await warnAboutOrphans(specs: Set(entries.keys)) }
                } catch {
                    if reload || first { logger.error("apps: \(error); keeping the apps as they are") }
                    first = false
                }
                shared.withLockedValue { $0.looked.directory = true }
                await directoryWakeup.wait(timeout: configuration.poll)
            }
            specs = shared.withLockedValue { s in s.workers.compactMapValues { $0.specInUse } }
            group.cancelAll()
        }
        if shared.withLockedValue({ $0.decommission }) { await removeContainers(specs: specs) }
    }

    /// After a leave: every container of this node (by its node label, so nothing Rumor did not start), after the
    /// longest `drain` of its apps, stopped with each app's `stop_grace`, all at once. Listed again until none is
    /// left: a create the engine was still finishing when the workers stopped shows up only after the first list.
    private func removeContainers(specs: [String: AppSpec]) async {
        guard let engine = shared.withLockedValue({ $0.engine }) else {
            return logger.warning("apps: left the cluster, but the Docker engine is not reachable: containers left running")
        }
        for round in 0..<5 {
            let mine: [ContainerSummary]
            do {
                mine = try await engine.listContainers(labels: ["\(RumorLabel.node)=\(host.nodeName)"])
            } catch {
                return logger.error("apps: left the cluster, but cannot list this node's containers: \(error); left running")
            }
            if mine.isEmpty { return }
            if round == 0 {
                let drain = specs.values.map(\.drain).max() ?? .zero
                logger.info("apps: left the cluster: removing this node's \(mine.count) container(s) after a \(GoDuration.format(drain)) drain")
                if drain > .zero { await Wakeup.sleep(for: drain, on: group.next()) }
            } else {
                logger.info("apps: left the cluster: removing \(mine.count) more container(s) the engine finished creating")
            }
            await remove(mine, engine: engine, specs: specs)
            await Wakeup.sleep(for: .milliseconds(300), on: group.next())
        }
    }

    private func remove(_ mine: [ContainerSummary], engine: any ContainerEngine, specs: [String: AppSpec]) async {
        await withDiscardingTaskGroup { tasks in
            for c in mine {
                let grace = c.labels[RumorLabel.app].flatMap { specs[$0]?.stopGrace } ?? AppSpec.defaultStopGrace
                tasks.addTask { [logger] in
                    do {
                        try await engine.stop(c.id, grace: grace)
                        try await engine.remove(c.id)
                    } catch let e as DockerError where e.isNotFound {
                    } catch {
                        logger.error("apps: remove \(c.name): \(error)")
                    }
                }
            }
        }
    }

    private func apply(_ entries: [String: AppsDirectory.Entry], previous: [String: AppsDirectory.Entry],
                       group: inout DiscardingTaskGroup) {
        let (generation, tags, resources, members) = shared.withLockedValue { ($0.generation, $0.nodeTags, $0.resources, $0.members) }
        for (app, entry) in entries.sorted(by: { $0.key < $1.key }) {
            let worker = shared.withLockedValue { $0.workers[app] }
            switch entry {
            case .invalid(let error):
                // Nothing already accepted is lost: a running app keeps its last good spec.
                if entry != previous[app] { logger.error("apps: \(error)\(worker == nil ? "" : "; \(app) keeps running its last good spec")") }
                if let worker { worker.status.withLockedValue { $0.specError = error } } else {
                    shared.withLockedValue { $0.invalid[app] = error }
                }
            case .refused(let spec, let refusal):
                // Nothing is made from it; a running app keeps its last good spec, and the run tag tells the
                // rollout (and `deploy --wait`) which rule refused it.
                if entry != previous[app] {
                    logger.error("apps: \(app): the spec deployed cluster-wide is \(refusal)\(worker == nil ? "" : "; \(app) keeps running its last good spec")")
                }
                shared.withLockedValue { _ = $0.invalid.removeValue(forKey: app) }
                let refused = AppWorker.Refused(templateHash: spec.templateHash, rule: refusal.rule.rawValue)
                if let worker {
                    worker.status.withLockedValue { $0.specError = "\(refusal)" }
                    worker.update { $0.refused = refused }
                } else {
                    start(app, spec: nil, refused: refused, placed: false, resources: resources, generation: generation,
                          members: members, group: &group)
                    shared.withLockedValue { $0.workers[app]?.status.withLockedValue { $0.specError = "\(refusal)" } }
                }
            case .spec(let spec):
                if entry != previous[app] { logger.info("apps: \(app): spec loaded (\(spec.image), template \(spec.templateHash))") }
                shared.withLockedValue { _ = $0.invalid.removeValue(forKey: app) }
                if let worker {
                    worker.status.withLockedValue { $0.specError = nil }
                    worker.update {
                        $0.spec = spec
                        $0.refused = nil
                        $0.placed = Self.placed(spec, tags: tags)
                        $0.generation = generation
                    }
                } else {
                    start(app, spec: spec, placed: Self.placed(spec, tags: tags), resources: resources, generation: generation,
                          members: members, group: &group)
                }
            }
        }
        // A spec file deleted while we run: its containers go (an app missing at start is left alone, see below).
        for (app, worker) in shared.withLockedValue({ $0.workers }) where entries[app] == nil {
            logger.info("apps: \(app): spec removed, removing its containers")
            worker.update { $0.spec = nil; $0.refused = nil }
        }
        for app in shared.withLockedValue({ Array($0.invalid.keys) }) where entries[app] == nil {
            shared.withLockedValue { _ = $0.invalid.removeValue(forKey: app) }
        }
    }

    private func start(_ app: String, spec: AppSpec?, refused: AppWorker.Refused? = nil, placed: Bool,
                       resources: (cores: Int, memoryMiB: Int), generation: Int,
                       members: [PlacementMember], group: inout DiscardingTaskGroup) {
        let worker = AppWorker(
            app: app,
            desired: .init(spec: spec, refused: refused, placed: placed, cores: resources.cores, memoryMiB: resources.memoryMiB,
                           generation: generation, members: members),
            host: host, resync: configuration.resync, registryAuth: configuration.registryAuth, logger: logger, epoch: epoch,
            eventLoop: self.group.next())
        let (engine, down) = shared.withLockedValue { s -> ((any ContainerEngine)?, String?) in
            s.workers[app] = worker
            return (s.engine, s.engineDown)
        }
        worker.use(engine, reason: down)
        group.addTask {
            await worker.run()
            // Returns only once its spec is gone and its containers removed.
            self.shared.withLockedValue { s in if s.workers[app] === worker { s.workers[app] = nil } }
        }
    }

    /// Containers of this node whose app has no spec at start: never removed on a guess (the directory may be
    /// half-deployed); said once, so an operator can decide.
    private func warnAboutOrphans(specs: Set<String>) async {
        guard let engine = shared.withLockedValue({ $0.engine }) else { return }
        guard let all = try? await engine.listContainers(labels: ["\(RumorLabel.node)=\(host.nodeName)"]) else { return }
        for c in all {
            guard let app = c.labels[RumorLabel.app], !specs.contains(app) else { continue }
            logger.warning("apps: container \(c.name) belongs to app '\(app)', which has no spec in \(configuration.appsDir); left as it is")
        }
    }

    /// Keeps a connection to the engine: connect, learn its resources, follow this node's container events;
    /// when the engine goes away, workers pause, and every reconnect makes them look again (events are not replayed).
    private func followEngine() async {
        var backoff: Duration = .seconds(1)
        var reported: String?
        while !Task.isCancelled {
            do {
                let client = try await engine.connect()
                let resources = try await client.resources()
                logger.info("apps: \(client.summary) (\(resources.cores) cores, \(resources.memoryMiB) MiB)")
                reported = nil
                backoff = .seconds(1)
                try await client.followEvents(label: "\(RumorLabel.node)=\(host.nodeName)", opened: {
                    let workers = self.shared.withLockedValue { s -> [AppWorker] in
                        s.engine = client
                        s.engineDown = nil
                        s.looked.engine = true
                        s.resources = resources
                        return Array(s.workers.values)
                    }
                    for worker in workers {
                        worker.update { ($0.cores, $0.memoryMiB) = resources }
                        worker.use(client)
                    }
                    self.directoryWakeup.signal()
                }) { event in
                    // A health check is an exec every interval (exec_create, exec_start, exec_die): only its
                    // result (health_status) changes what the worker decides.
                    guard let app = event.attributes[RumorLabel.app], !event.action.hasPrefix("exec_") else { return }
                    self.shared.withLockedValue { $0.workers[app] }?.poke()
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let text = "\(error)"
                if text != reported { logger.error("apps: \(text); retrying"); reported = text }
                let workers = shared.withLockedValue { s -> [AppWorker] in
                    s.engine = nil
                    s.engineDown = text
                    s.looked.engine = true
                    return Array(s.workers.values)
                }
                for worker in workers { worker.use(nil, reason: text) }
            }
            await Wakeup.sleep(for: backoff, on: self.group.next())
            backoff = min(backoff * 2, .seconds(30))
        }
    }
}
