#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import RumorSupport

/// The Docker Engine API calls Rumor makes, over the engine's unix socket, at the API version both sides speak.
public struct DockerClient: Sendable {
    public let http: UnixHTTPClient
    /// Negotiated at ``connect(socketPath:group:)``: the engine's version, capped at the newest we know.
    public let apiVersion: String

    /// Oldest API we speak: Debian 12's docker.io (Engine 20.10). Newer engines refuse below their own minimum
    /// (Engine 29: 1.44), so no fixed version works everywhere: we ask `/_ping` which one the engine speaks.
    public static let minimumAPI = (1, 41)
    public static let maximumAPI = (1, 47)
    /// Requests that are not streams give up after this long.
    public static let requestTimeout: Duration = .seconds(30)

    /// The engine is Podman (its `/_ping` names a libpod API): it runs health checks only from systemd timers.
    public let libpodVersion: String?

    public init(http: UnixHTTPClient, apiVersion: String, libpodVersion: String? = nil) {
        self.http = http
        self.apiVersion = apiVersion
        self.libpodVersion = libpodVersion
    }

    /// `DOCKER_HOST`'s socket path: `unix:///path` or a bare path; other schemes are refused with a clear error.
    public static func socketPath(dockerHost: String?) throws -> String {
        guard let host = dockerHost, !host.isEmpty else { return "/var/run/docker.sock" }
        if host.hasPrefix("unix://") { return String(host.dropFirst("unix://".count)) }
        if host.hasPrefix("/") { return host }
        throw DockerError(.engineUnreachable, "DOCKER_HOST '\(host)': only unix:// sockets are supported")
    }

    /// The socket of the engine this process's `DOCKER_HOST` names (the agent's rule; the live-engine tests use it
    /// too, so they run against Podman's Docker-compatible socket with `DOCKER_HOST=unix://...`).
    public static func environmentSocketPath() throws -> String {
        try socketPath(dockerHost: getenv("DOCKER_HOST").map { String(cString: $0) })
    }

    /// Pings the engine and settles the API version.
    public static func connect(socketPath: String, group: any EventLoopGroup) async throws -> DockerClient {
        let http = UnixHTTPClient(socketPath: socketPath, group: group)
        let ping = try await http.send(.GET, "/_ping", timeout: .seconds(10))
        guard ping.status == 200 else {
            throw DockerError(.status(ping.status), "the Docker engine answered /_ping with HTTP \(ping.status)")
        }
        let version = try negotiate(engine: ping.header("API-Version"))
        return DockerClient(http: http, apiVersion: version, libpodVersion: ping.header("Libpod-API-Version"))
    }

    static func negotiate(engine: String?) throws -> String {
        guard let engine else { return "\(minimumAPI.0).\(minimumAPI.1)" }
        let parts = engine.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 2 else { throw DockerError(.protocolError, "the engine's API version '\(engine)' is unreadable") }
        let v = (parts[0], parts[1])
        if v < minimumAPI {
            throw DockerError(.protocolError, "the Docker engine speaks API \(engine); Rumor needs \(minimumAPI.0).\(minimumAPI.1) or newer")
        }
        let chosen = min(v, maximumAPI)
        return "\(chosen.0).\(chosen.1)"
    }

    // MARK: Calls

    /// One request; a non-2xx answer throws with Docker's message.
    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSON? = nil,
              headers: [(String, String)] = [], timeout: Duration = requestTimeout) async throws -> JSON? {
        let response = try await http.send(
            method, uri(path, query), body: body.map { Array($0.serialized().utf8) }, headers: headers, timeout: timeout)
        guard (200..<300).contains(response.status) || response.status == 304 else {
            throw Self.error(status: response.status, body: response.body)
        }
        guard !response.body.isEmpty else { return nil }
        do { return try JSON.parse(String(decoding: response.body, as: UTF8.self)) } catch {
            throw DockerError(.protocolError, "unreadable answer to \(method) \(path): \(error)")
        }
    }

    func uri(_ path: String, _ query: [(String, String)]) -> String {
        var uri = "/v\(apiVersion)\(path)"
        if !query.isEmpty { uri += "?" + query.map { "\($0.0)=\(Self.percentEncoded($0.1))" }.joined(separator: "&") }
        return uri
    }

    static func error(status: Int, body: [UInt8]) -> DockerError {
        let text = String(decoding: body, as: UTF8.self)
        let message = (try? JSON.parse(text))?["message"]?.stringValue ?? (text.isEmpty ? "HTTP \(status)" : text)
        return DockerError(.status(status), message)
    }

    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    static func labelFilter(_ labels: [String]) -> String {
        JSON.object([("label", .array(labels.map(JSON.string)))]).serialized()
    }

    /// The engine host's CPU count and memory (`containers_per` cpu and memory count these).
    public func resources() async throws -> (cores: Int, memoryMiB: Int) {
        let info = try await call(.GET, "/info")
        return (info?["NCPU"]?.intValue ?? 1, (info?["MemTotal"]?.intValue ?? 0) >> 20)
    }

    // MARK: Containers

    /// Containers (running or not) carrying every one of `labels` (`key` or `key=value`).
    public func listContainers(labels: [String]) async throws -> [ContainerSummary] {
        let json = try await call(.GET, "/containers/json", query: [("all", "1"), ("filters", Self.labelFilter(labels))])
        return try (json?.arrayValue ?? []).map(ContainerSummary.init)
    }

    public func inspect(_ id: String) async throws -> ContainerDetails {
        guard let json = try await call(.GET, "/containers/\(id)/json") else {
            throw DockerError(.protocolError, "empty inspect answer for \(id)")
        }
        return try ContainerDetails(json: json)
    }

    /// Creates (not starts) a container; returns its id. Networks after the first are connected here too.
    public func create(name: String, _ config: ContainerConfig) async throws -> String {
        let json = try await call(.POST, "/containers/create", query: [("name", name)], body: config.json)
        guard let id = json?["Id"]?.stringValue else { throw DockerError(.protocolError, "create answered without an Id") }
        for network in config.networks.dropFirst() {
            do {
                try await call(.POST, "/networks/\(network)/connect", body: .object([("Container", .string(id))]))
            } catch {
                try? await remove(id)
                throw error
            }
        }
        return id
    }

    public func start(_ id: String) async throws { try await call(.POST, "/containers/\(id)/start") }

    /// SIGTERM, then SIGKILL after `grace` (Docker's `t`); the request outlives the grace period.
    public func stop(_ id: String, grace: Duration) async throws {
        let seconds = max(0, Int(grace.components.seconds))
        try await call(.POST, "/containers/\(id)/stop", query: [("t", "\(seconds)")], timeout: .seconds(seconds + 30))
    }

    /// Runs the container's health check once, now, and records its result (Podman's libpod API; Docker has no
    /// such call and needs none).
    public func runHealthcheck(_ id: String) async throws {
        let response = try await http.send(.GET, "/v4.0.0/libpod/containers/\(id)/healthcheck", timeout: Self.requestTimeout)
        guard response.status == 200 else { throw Self.error(status: response.status, body: response.body) }
    }

    public func kill(_ id: String, signal: String = "KILL") async throws {
        try await call(.POST, "/containers/\(id)/kill", query: [("signal", signal)])
    }

    /// Removes a container and its anonymous volumes, stopping it if it runs; an absent one is no error.
    public func remove(_ id: String) async throws {
        do { try await call(.DELETE, "/containers/\(id)", query: [("force", "1"), ("v", "1")]) } catch let e as DockerError where e.isNotFound {}
    }

    // MARK: Images

    /// The local image's id, or nil if the engine does not have it.
    public func imageID(_ reference: String) async throws -> String? {
        do { return try await call(.GET, "/images/\(reference)/json")?["Id"]?.stringValue } catch let e as DockerError where e.isNotFound {
            return nil
        }
    }

    /// Pulls `reference` (`name[:tag]`). The engine answers 200 and then reports failures inside the progress
    /// stream, so the stream is read to its end and its last error, if any, is thrown.
    public func pull(_ reference: String, registryAuth: String? = nil) async throws {
        let (name, tag) = Self.split(reference)
        let failure = NIOLockedValueBox<String?>(nil)
        let head = NIOLockedValueBox<[UInt8]>([])  // the start of the body, for an error answer's message
        let response = try await http.send(
            .POST, uri("/images/create", [("fromImage", name), ("tag", tag)]),
            headers: registryAuth.map { [("X-Registry-Auth", $0)] } ?? [], timeout: .seconds(600),
            onChunk: { bytes in
                head.withLockedValue { if $0.count < 65536 { $0 += bytes } }
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                    if let message = (try? JSON.parse(String(line)))?["error"]?.stringValue {
                        failure.withLockedValue { $0 = message }
                    }
                }
            })
        guard (200..<300).contains(response.status) else {
            throw Self.error(status: response.status, body: head.withLockedValue { $0 })
        }
        if let message = failure.withLockedValue({ $0 }) { throw DockerError(.pullFailed, message) }
    }

    /// `registry:5000/app:v2` → (`registry:5000/app`, `v2`); no tag means `latest`; a digest stays in the name.
    static func split(_ reference: String) -> (String, String) {
        if reference.contains("@") { return (reference, "") }
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    // MARK: Events

    /// Follows container events carrying `label` until the engine closes the stream or the task is cancelled.
    /// `opened` runs once the engine has accepted the subscription: list after it, and nothing is missed.
    public func followEvents(label: String, opened: @escaping @Sendable () -> Void,
                             _ handle: @escaping @Sendable (DockerEvent) -> Void) async throws {
        let filters = JSON.object([
            ("type", .array([.string("container")])), ("label", .array([.string(label)])),
        ]).serialized()
        let lines = NIOLockedValueBox(JSONLines())
        let response = try await http.send(
            .GET, uri("/events", [("filters", filters)]), timeout: nil,
            onHead: { status in if status == 200 { opened() } },
            onChunk: { bytes in
                for line in lines.withLockedValue({ $0.feed(bytes) }) {
                    if let json = try? JSON.parse(line), let event = DockerEvent(json: json) { handle(event) }
                }
            })
        if response.status != 200 { throw Self.error(status: response.status, body: response.body) }
        throw DockerError(.engineUnreachable, "the Docker engine closed the event stream")
    }
}

private func < (a: (Int, Int), b: (Int, Int)) -> Bool { a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
private func min(_ a: (Int, Int), _ b: (Int, Int)) -> (Int, Int) { a < b ? a : b }
