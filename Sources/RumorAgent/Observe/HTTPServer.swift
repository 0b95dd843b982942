import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RumorRuntime
import Synchronization

/// A read-only HTTP/1.1 listener (`http_addr`): `/metrics`, `/v1/...` and the cluster page. Every request is a GET
/// answered from the agent's memory on its event loop, then the connection closes: scrapers and the page's poll
/// open one per second at most, and nothing stays open for an idle client to hold.
final class HTTPServer: Sendable {
    struct Response: Sendable {
        var status: HTTPResponseStatus = .ok
        var contentType: String
        var body: [UInt8]

        static func text(_ text: String, status: HTTPResponseStatus = .ok) -> Response {
            Response(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
        }
    }

    /// Connections open at once; more are closed as they arrive.
    static let maxClients = 64
    /// A client that has not sent its request by then is cut off.
    static let requestDeadline: TimeAmount = .seconds(10)

    private struct State {
        var listener: (any Channel)?
        var open = 0
        var closed = false
    }

    private let eventLoop: any EventLoop
    private let logger: Logger
    private let route: @Sendable (_ path: String, _ query: [String: String]) -> Response
    private let state = Mutex(State())

    /// `route` runs on `eventLoop` for each GET.
    init(eventLoop: any EventLoop, logger: Logger, route: @escaping @Sendable (String, [String: String]) -> Response) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.route = route
    }

    var localAddress: SocketAddress? { state.withLock { $0.listener?.localAddress } }

    func start(host: String, port: Int) -> EventLoopFuture<Void> {
        let logger = self.logger
        return ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(acceptBackoff(logger: logger, what: "HTTP"))
                }
            }
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak self] channel in
                guard let self, self.admit(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(route: self.route))
                    channel.eventLoop.scheduleTask(in: Self.requestDeadline) { channel.close(promise: nil) }
                }
            }
            .bind(host: host, port: port)
            .flatMap { [self] channel in
                let closedMeanwhile = state.withLock { s in
                    if s.closed { return true }
                    s.listener = channel
                    return false
                }
                if closedMeanwhile { return channel.close() }
                logger.info("HTTP: listening on http://\(channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)")/ (metrics: /metrics)")
                return channel.eventLoop.makeSucceededVoidFuture()
            }
    }

    private func admit(_ channel: any Channel) -> Bool {
        let admitted = state.withLock { s in
            guard !s.closed, s.open < Self.maxClients else { return false }
            s.open += 1
            return true
        }
        if admitted { channel.closeFuture.whenComplete { [self] _ in state.withLock { $0.open -= 1 } } }
        return admitted
    }

    func close() -> EventLoopFuture<Void> {
        let listener = state.withLock { s -> (any Channel)? in
            s.closed = true
            return s.listener
        }
        return listener?.close() ?? eventLoop.makeSucceededVoidFuture()
    }
}

/// One request, one response, then close.
private final class HTTPRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: @Sendable (String, [String: String]) -> HTTPServer.Response
    private var head: HTTPRequestHead?

    init(route: @escaping @Sendable (String, [String: String]) -> HTTPServer.Response) { self.route = route }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break  // GET only: a body is ignored, never buffered
        case .end:
            guard let head else { return context.close(promise: nil) }
            let response: HTTPServer.Response
            if head.method == .GET || head.method == .HEAD {
                let (path, query) = Self.split(head.uri)
                response = route(path, query)
            } else {
                response = .text("method \(head.method) not allowed: this listener is read-only (GET)\n", status: .methodNotAllowed)
            }
            write(response, headOnly: head.method == .HEAD, version: head.version, context: context)
        }
    }

    private func write(_ r: HTTPServer.Response, headOnly: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: r.contentType)
        headers.add(name: "Content-Length", value: "\(r.body.count)")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Cache-Control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: r.status, headers: headers))), promise: nil)
        if !headOnly { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: r.body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    /// `/v1/events?since=3` → ("/v1/events", ["since": "3"]); no percent-decoding: no route takes free text.
    static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count == 2 ? String(kv[1]) : ""
            }
        }
        return (String(parts.first ?? "/"), query)
    }
}
