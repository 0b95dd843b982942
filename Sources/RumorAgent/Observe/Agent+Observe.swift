import Logging
import NIOCore
import NIOHTTP1
import RumorApps
import RumorRuntime
import RumorCore
import RumorMetrics
import RumorSupport
import RumorWire

/// The agent's side of observation: counting and remembering events as they are dispatched, and the HTTP listener
/// that serves them (docs/observe.md).
extension Agent {
    /// Adds families to `/metrics` (a built-in action's); `source` runs on the agent's loop at each scrape.
    public func addMetrics(_ source: @escaping @Sendable (inout MetricsText) -> Void) {
        eventLoop.execute { self.observation.metricsSources.append(source) }
    }

    /// Counts and logs `event` for `/metrics` and `/v1/events`.
    func observe(_ event: Event) {
        func log(_ kind: String, node: String = "", app: String = "", _ text: String) {
            observation.events.add(.init(time: WallClock.unixMilliseconds(), kind: kind, node: node, app: app, text: text))
        }
        if let (type, m) = event.memberChange {
            observation.counters.memberEvents[type, default: 0] += 1
            let what: String = switch type {
            case .join: "joined from \(m.address.host)"
            case .leave: "left"
            case .failed: "failed"
            case .update: "updated its tags"
            case .reap: "was reaped"
            }
            return log(type.rawValue, node: m.name, "\(m.name) \(what)")
        }
        switch event {
        case .userEvent(let e):
            observation.counters.userEvents += 1
            log("user-event", "\(e.name) (\(e.payload.count) bytes, Lamport time \(e.ltime))")
        case .query: observation.counters.queries += 1
        case .appChanged(let r):
            observation.counters.appChanges += 1
            let what = r.spec.isEmpty ? "app-stop" : r.rollback.isEmpty ? "app-deploy" : "app-rollback"
            let text = r.spec.isEmpty ? "stopped by \(r.origin)" : r.rollback.isEmpty
                ? "deployed by \(r.origin) (spec \(StableHash.ofSpec(r.spec)))" : "rolled back: \(r.rollback)"
            log(what, node: r.origin, app: r.name, text)
        case .appRefused(let app, let serial, let origin, _, let reason):
            observation.counters.appRefusals += 1
            log("app-refused", node: origin, app: app, "serial \(serial) refused: \(reason)")
        default: break
        }
    }

    /// A container event from the container action, for `/v1/events`.
    func observeContainer(type: String, environment: [String: String]) {
        let container = environment["RUMOR_CONTAINER"] ?? "?"
        observation.counters.containerEvents[environment["RUMOR_APP"] ?? "", default: [:]][type, default: 0] += 1
        let text = switch type {
        case "container-exit": "\(container) exited\(environment["RUMOR_EXIT_CODE"].map { " (\($0))" } ?? "")"
        default: "\(container): \(type.dropFirst("container-".count))"
        }
        observation.events.add(.init(time: WallClock.unixMilliseconds(), kind: type, node: name, app: environment["RUMOR_APP"] ?? "", text: text))
    }

    // MARK: - The listener

    /// Binds `http_addr`. The default address is taken only if free (a second agent on the machine logs where it
    /// is not listening and goes on); an address the user gave must bind, as the RPC's must.
    func startHTTP() -> EventLoopFuture<Void> {
        let text = configuration.httpAddr ?? AgentConfiguration.defaultHTTPAddr
        guard !text.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let addr: HostPort
        do { addr = try HostPort.parse(text, defaultPort: 7374, what: "HTTP address") } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let server = HTTPServer(eventLoop: eventLoop, logger: logger) { [weak self] path, query in
            self?.answerHTTP(path, query) ?? .text("the agent is stopping\n", status: .serviceUnavailable)
        }
        observation.http = server
        return server.start(host: addr.host, port: addr.port).flatMapError { [self] error in
            observation.http = nil
            if configuration.httpAddr == nil {
                logger.info("HTTP: not listening: \(text) is taken (\(error)); set http_addr to choose another address")
                return eventLoop.makeSucceededVoidFuture()
            }
            // Nothing may keep running for an agent that did not start.
            let closes = [runtime.shutdown(), rpc?.close() ?? eventLoop.makeSucceededVoidFuture()]
            return EventLoopFuture.andAllComplete(closes, on: eventLoop).flatMapThrowing {
                throw StartupError("failed to start the HTTP listener on \(text): \(error)")
            }
        }
    }

    /// Where the HTTP listener is bound, once it runs (nil when off or not bound).
    public var httpAddress: SocketAddress? { observation.http?.localAddress }

    func answerHTTP(_ path: String, _ query: [String: String]) -> HTTPServer.Response {
        let json = { (j: JSON) in HTTPServer.Response(contentType: "application/json", body: Array(j.serialized().utf8)) }
        switch path {
        case "/": return HTTPServer.Response(contentType: "text/html; charset=utf-8", body: Array(ClusterPage.html.utf8))
        case "/metrics": return HTTPServer.Response(contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metricsText().utf8))
        case "/v1/members": return json(membersJSON())
        case "/v1/apps": return json(appsJSON())
        case "/v1/containers": return json(containersJSON())
        case "/v1/events": return json(observation.events.json(since: query["since"].flatMap { Int($0) } ?? 0))
        case "/v1/cluster": return json(clusterJSON(since: query["since"].flatMap { Int($0) } ?? 0))
        default:
            return .text("not found: \(JSON.excerpt(path)); try /, /metrics, /v1/members, /v1/apps, /v1/containers, /v1/events, /v1/cluster\n",
                         status: .notFound)
        }
    }
}
