import NIOConcurrencyHelpers
import RumorDocker

/// A container engine in memory, for the container action's rules: deterministic, instant, and with the faults a
/// real engine has on demand (a create that fails, a container that exits or turns unhealthy, an engine restart).
/// Errors are the `DockerError`s Docker's API gives for the same cases. A fake on purpose: the live-engine suites
/// (ContainerActionTests, ReplicaActionTests, the agent suites) keep the real thing covered.
final class InMemoryEngine: ContainerEngine {
    struct Container: Sendable {
        var id: String
        var name: String
        var config: ContainerConfig
        var running = false
        var exitCode = 0
        var health: String?
        var status = "created"
    }

    private struct State {
        var containers: [String: Container] = [:]
        var next = 0
        var images: Set<String> = []
        /// The next creates fail with this message (one entry each).
        var failingCreates: [String] = []
        var subscribers: [Int: AsyncStream<DockerEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var calls: [String: Int] = [:]
        /// Stops wait (until `releaseStops`), as for an image that ignores SIGTERM through its stop grace.
        /// Like Podman without systemd: health checks run only when the action asks (`runHealthcheck`).
        var checksOnDemand = false
        var holdingStops = false
        var heldStops: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())
    let summary = "in-memory engine"

    init(images: [String]) { state.withLockedValue { $0.images = Set(images) } }

    // MARK: Faults and looks, for tests

    func failNextCreate(_ message: String) { state.withLockedValue { $0.failingCreates.append(message) } }

    /// The container's main process exits with `code`, as after `docker kill` (137) or a crash.
    func exit(_ id: String, code: Int) {
        update(id, "die") { $0.running = false; $0.status = "exited"; $0.exitCode = code; $0.health = nil }
    }

    /// Health checks run only through `runHealthcheck` (as Podman's without systemd): a container with one starts
    /// `starting` and turns healthy at its first check.
    func runChecksOnDemand() { state.withLockedValue { $0.checksOnDemand = true } }

    var runsHealthchecks: Bool { !state.withLockedValue { $0.checksOnDemand } }

    func runHealthcheck(_ id: String) async throws {
        count("healthcheck")
        try updateOrThrow(id, "health_status: healthy") { c in if c.running { c.health = "healthy" } }
    }

    /// From now on every stop waits until `releaseStops()`: the stop grace of an image that ignores SIGTERM.
    func holdStops() { state.withLockedValue { $0.holdingStops = true } }

    func releaseStops() {
        let held = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.holdingStops = false
            defer { s.heldStops = [] }
            return s.heldStops
        }
        for c in held { c.resume() }
    }

    func turnUnhealthy(_ id: String) { update(id, "health_status: unhealthy") { $0.health = "unhealthy" } }

    /// The engine goes away and comes back: every event stream ends (the action reconnects); containers stay.
    func restart() {
        let subscribers = state.withLockedValue { s -> [AsyncStream<DockerEvent>.Continuation] in
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for s in subscribers { s.finish() }
    }

    func containers(labels: [String: String] = [:]) -> [Container] {
        state.withLockedValue { s in
            s.containers.values.filter { c in labels.allSatisfy { c.config.labels[$0.key] == $0.value } }.sorted { $0.name < $1.name }
        }
    }

    func calls(_ name: String) -> Int { state.withLockedValue { $0.calls[name] ?? 0 } }

    // MARK: ContainerEngine

    func resources() async throws -> (cores: Int, memoryMiB: Int) { (4, 8192) }

    func listContainers(labels: [String]) async throws -> [ContainerSummary] {
        count("list")
        let wanted = Dictionary(labels.compactMap { l -> (String, String)? in
            let kv = l.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? (kv[0], kv[1]) : nil
        }, uniquingKeysWith: { a, _ in a })
        return containers(labels: wanted).map {
            ContainerSummary(id: $0.id, name: $0.name, image: $0.config.image, labels: $0.config.labels, state: $0.status)
        }
    }

    func inspect(_ id: String) async throws -> ContainerDetails {
        count("inspect")
        guard let c = state.withLockedValue({ $0.containers[id] }) else { throw Self.noSuch(id) }
        var details = ContainerDetails(id: c.id, name: c.name, image: c.config.image, labels: c.config.labels, status: c.status,
                                       running: c.running, exitCode: c.exitCode, health: c.health,
                                       addresses: Dictionary(uniqueKeysWithValues: c.config.networks.map { ($0, "10.1.0.\(c.id.suffix(3))") }))
        details.healthInterval = c.config.healthcheck?.interval
        return details
    }

    func create(name: String, _ config: ContainerConfig) async throws -> String {
        count("create")
        return try state.withLockedValue { s in
            if !s.failingCreates.isEmpty { throw DockerError(.status(500), s.failingCreates.removeFirst()) }
            guard s.images.contains(config.image) else { throw DockerError(.status(404), "No such image: \(config.image)") }
            guard !s.containers.values.contains(where: { $0.name == name }) else {
                throw DockerError(.status(409), "Conflict. The container name \"/\(name)\" is already in use")
            }
            s.next += 1
            let id = String(repeating: "0", count: 58) + String(s.next + 100_000)
            s.containers[id] = Container(id: id, name: name, config: config)
            return id
        }
    }

    func start(_ id: String) async throws {
        count("start")
        let onDemand = state.withLockedValue { $0.checksOnDemand }
        try updateOrThrow(id, "start") { c in
            c.running = true
            c.status = "running"
            c.health = c.config.healthcheck == nil ? nil : onDemand ? "starting" : "healthy"
        }
    }

    func stop(_ id: String, grace: Duration) async throws {
        count("stop")
        await withCheckedContinuation { c in
            let held = state.withLockedValue { s in
                if s.holdingStops { s.heldStops.append(c) }
                return s.holdingStops
            }
            if !held { c.resume() }
        }
        try updateOrThrow(id, "die") { c in
            if c.running { (c.running, c.status, c.exitCode, c.health) = (false, "exited", 143, nil) }
        }
    }

    func remove(_ id: String) async throws {
        count("remove")
        let removed = state.withLockedValue { $0.containers.removeValue(forKey: id) }
        if let removed { emit(DockerEvent(action: "destroy", containerID: id, attributes: removed.config.labels)) }
    }

    func imageID(_ reference: String) async throws -> String? {
        state.withLockedValue { $0.images.contains(reference) } ? "sha256:\(reference)" : nil
    }

    func pull(_ reference: String, registryAuth: String?) async throws {
        throw DockerError(.status(404), "pull access denied for \(reference), repository does not exist")
    }

    func followEvents(label: String, opened: @escaping @Sendable () -> Void,
                      _ handle: @escaping @Sendable (DockerEvent) -> Void) async throws {
        count("events")
        let (stream, continuation) = AsyncStream<DockerEvent>.makeStream()
        let key = state.withLockedValue { s -> Int in
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        defer { _ = state.withLockedValue { $0.subscribers.removeValue(forKey: key) } }
        opened()
        let kv = label.split(separator: "=", maxSplits: 1).map(String.init)
        for await event in stream where kv.count == 2 && event.attributes[kv[0]] == kv[1] { handle(event) }
        try Task.checkCancellation()
        throw DockerError(.engineUnreachable, "the in-memory engine restarted")
    }

    // MARK: Helpers

    private func count(_ call: String) { state.withLockedValue { $0.calls[call, default: 0] += 1 } }

    private static func noSuch(_ id: String) -> DockerError { DockerError(.status(404), "No such container: \(id)") }

    private func update(_ id: String, _ action: String, _ change: (inout Container) -> Void) {
        try? updateOrThrow(id, action, change)
    }

    private func updateOrThrow(_ id: String, _ action: String, _ change: (inout Container) -> Void) throws {
        let labels = try state.withLockedValue { s -> [String: String] in
            guard var c = s.containers[id] else { throw Self.noSuch(id) }
            change(&c)
            s.containers[id] = c
            return c.config.labels
        }
        emit(DockerEvent(action: action, containerID: id, attributes: labels))
    }

    private func emit(_ event: DockerEvent) {
        for s in state.withLockedValue({ Array($0.subscribers.values) }) { s.yield(event) }
    }
}
