import Logging
import NIOCore
import NIOPosix
import RumorCore
import RumorWire

/// TCP: one message per connection (push-pull, fallback ping, reliable user message), as memberlist does.
extension Runtime {
    /// Streams at least this large are decoded off the event loop.
    static let offLoopDecodeBytes = 64 << 10

    func openStream(_ id: StreamID, to: Address, payload: [UInt8], expectsReply: Bool, timeout: Duration) {
        let report = ReportOnce { [self] result in
            guard expectsReply else { return }
            guard case .success(let bytes) = result, bytes.count >= Self.offLoopDecodeBytes else {
                return handle(.streamReply(id, result))
            }
            decodeOffLoop(bytes) { [self] decoded in
                guard let decoded else { return handle(.streamReply(id, result)) }
                handle(.decodedStreamReply(id, .success(decoded)))
            }
        }
        guard let target = to.socketAddress else { return report(.failure(StreamFailure("bad address \(to)"))) }
        let message: [UInt8]
        do { message = try security?.sealStream(payload) ?? payload } catch {
            return report(.failure(StreamFailure("encrypting: \(error)")))
        }
        let timeoutAmount = TimeAmount.nanoseconds(max(timeout.nanoseconds, 1_000_000))
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeoutAmount)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamCollector { [self] result, channel in
                        channel.close(promise: nil)
                        report(result.flatMap { openStreamPayload($0) }.mapError { failure in
                            guard failure == StreamCollector.closedEarly else { return failure }
                            // memberlist hangs up without a word on a message it cannot decrypt or parse.
                            return StreamFailure("\(to) closed the connection without replying (do both sides use "
                                + "the same encryption key, or both none?)")
                        })
                    })
                }
            }
            .connect(to: target)
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    report(.failure(StreamFailure("dial \(to): \(error)")))
                case .success(let channel):
                    channel.writeAndFlush(channel.allocator.buffer(bytes: message), promise: nil)
                    guard expectsReply else {
                        channel.close(mode: .output, promise: nil)
                        eventLoop.scheduleTask(in: timeoutAmount) { channel.close(promise: nil) }
                        return
                    }
                    eventLoop.scheduleTask(in: timeoutAmount) {
                        report(.failure(StreamFailure("i/o timeout waiting for \(to)")))
                        channel.close(promise: nil)
                    }
                }
            }
    }

    func receiveStream(_ result: Result<[UInt8], StreamFailure>, on channel: any Channel) {
        guard let remote = channel.remoteAddress.flatMap(Address.init) else { return channel.close(promise: nil) }
        switch result.flatMap({ openStreamPayload($0) }) {
        case .failure(let failure):
            counters.streamsFailed += 1
            if let line = warnings.admit("dropped stream from \(remote): \(failure)", at: now) { logger.warning("\(line)") }
            // Tell the peer why, as memberlist does: an error message, sealed with our key if we have one, so a
            // plaintext peer learns that we are encrypted and a wrong-key peer that we cannot read it.
            let reply = MemberlistCodec.encode(.err("\(failure)"))
            guard let sealed = try? security?.sealStream(reply) ?? reply else { return channel.close(promise: nil) }
            channel.writeAndFlush(channel.allocator.buffer(bytes: sealed)).whenComplete { _ in channel.close(promise: nil) }
        case .success(let bytes):
            counters.streamsReceived += 1
            counters.streamBytesReceived += bytes.count
            nextInbound += 1
            let id = StreamID(nextInbound)
            inbound[id] = channel
            // Closing for any reason forgets the stream, so a late reply finds nothing to write to.
            channel.closeFuture.whenComplete { [self] _ in inbound[id] = nil }
            guard bytes.count >= Self.offLoopDecodeBytes else { return handle(.stream(id, payload: bytes, from: remote)) }
            // A large stream (a push-pull of thousands of nodes) is decoded on a pool thread: 10 MB of msgpack
            // would otherwise hold up probes and acks on the loop for a good part of a second.
            decodeOffLoop(bytes) { [self] decoded in
                guard let decoded else { return handle(.stream(id, payload: bytes, from: remote)) }
                handle(.decodedStream(id, decoded, from: remote))
            }
        }
    }

    /// Decodes `bytes` on a pool thread and hands the result back on the loop (nil if the pool is shut down).
    func decodeOffLoop(_ bytes: [UInt8], then body: @escaping (DecodedStream?) -> Void) {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { DecodedStream.decode(bytes) }
            .assumeIsolated().whenComplete { result in body(try? result.get()) }
    }

    /// Encodes a large push-pull state on a pool thread and continues on the loop (here, if the pool is shut down).
    func encodeOffLoop(_ state: LocalStateSnapshot, then body: @escaping ([UInt8]) -> Void) {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { state.encode() }
            .assumeIsolated().whenComplete { result in body((try? result.get()) ?? state.encode()) }
    }

    func replyStream(_ id: StreamID, payload: [UInt8]?) {
        guard let channel = inbound.removeValue(forKey: id) else { return }
        guard let payload else { return channel.close(promise: nil) }
        do {
            let sealed = try security?.sealStream(payload) ?? payload
            channel.writeAndFlush(channel.allocator.buffer(bytes: sealed)).whenComplete { _ in channel.close(promise: nil) }
        } catch {
            logger.error("failed to encrypt stream reply", metadata: ["error": "\(error)"])
            channel.close(promise: nil)
        }
    }

    func openStreamPayload(_ bytes: [UInt8]) -> Result<[UInt8], StreamFailure> {
        guard let security else {
            if bytes.first == MessageType.encrypt.rawValue {
                return .failure(StreamFailure("remote state is encrypted and encryption is not configured"))
            }
            return .success(bytes)
        }
        do { return .success(try security.openStream(bytes)) } catch {
            return .failure(StreamFailure("\(error)"))
        }
    }
}

/// Delivers a stream's outcome exactly once, whichever of reply, error or timeout comes first.
final class ReportOnce: @unchecked Sendable {
    // @unchecked: called only on the runtime's event loop.
    private var done = false
    private let body: (Result<[UInt8], StreamFailure>) -> Void

    init(_ body: @escaping (Result<[UInt8], StreamFailure>) -> Void) { self.body = body }

    func callAsFunction(_ result: Result<[UInt8], StreamFailure>) {
        guard !done else { return }
        done = true
        body(result)
    }
}
