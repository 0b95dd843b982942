import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP/1.1 over a unix socket, one connection per request. Docker's socket is local and cheap to connect to; a
/// fresh connection per call means no pool, no keep-alive state, and no call queued behind the `/events` stream.
public struct UnixHTTPClient: Sendable {
    public let socketPath: String
    let group: any EventLoopGroup

    public init(socketPath: String, group: any EventLoopGroup) {
        self.socketPath = socketPath
        self.group = group
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        /// The whole body, unless the caller streamed it through `onChunk`.
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// Sends one request and reads the response. With `onChunk`, body bytes go there as they arrive (a stream such
    /// as `/events`, which ends only when the engine closes it or the task is cancelled); `onHead` sees the status
    /// before the first chunk. `timeout` bounds the whole exchange: nil for streams.
    public func send(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers extra: [(String, String)] = [],
        timeout: Duration?, onHead: (@Sendable (Int) -> Void)? = nil, onChunk: (@Sendable ([UInt8]) -> Void)? = nil
    ) async throws -> Response {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw DockerError(.engineUnreachable, "cannot connect to the Docker engine at unix://\(socketPath): \(error)")
        }
        // The deadline closes the connection, which ends the read loop below with an error we then name.
        let deadline = timeout.map { t in
            channel.channel.eventLoop.scheduleTask(in: TimeAmount(t)) {
                channel.channel.close(promise: nil)
            }
        }
        defer { deadline?.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
                    head.headers.add(name: "Host", value: "docker")  // dockerd answers 400 without one
                    head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
                    if body != nil { head.headers.add(name: "Content-Type", value: "application/json") }
                    for (name, value) in extra { head.headers.add(name: name, value: value) }
                    try await outbound.write(.head(head))
                    if let body, !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))

                    var response = Response(status: 0, headers: [], body: [])
                    for try await part in inbound {
                        switch part {
                        case .head(let h):
                            response.status = Int(h.status.code)
                            response.headers = h.headers.map { ($0.name, $0.value) }
                            onHead?(response.status)
                        case .body(let buffer):
                            let bytes = Array(buffer.readableBytesView)
                            if let onChunk { onChunk(bytes) } else { response.body += bytes }
                        case .end:
                            return response
                        }
                    }
                    throw DockerError(.protocolError, "the Docker engine closed the connection before the response ended")
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch let error as DockerError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            if let timeout, deadline != nil, !channel.channel.isActive {
                throw DockerError(.timeout, "the Docker engine did not answer \(method) \(path) within \(timeout)")
            }
            throw DockerError(.engineUnreachable, "the Docker engine connection failed during \(method) \(path): \(error)")
        }
    }
}
