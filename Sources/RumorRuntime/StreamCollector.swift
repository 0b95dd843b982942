import NIOCore
import RumorCore
import RumorWire

/// Collects one stream message: reports as soon as a complete message has arrived (peers do not half-close), at
/// end of input, on error, when the stream outgrows memberlist's 20 MiB limit or the shared buffer budget, or when
/// the deadline for the whole stream passes (memberlist's TCP timeout). Framing resumes where it stopped on every
/// read, so a dripped stream costs linear time.
final class StreamCollector: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on its channel's event loop.
    typealias InboundIn = ByteBuffer

    static let limit = StreamFramer.maxStateBytes
    static let closedEarly = StreamFailure("connection closed before a message arrived")
    private var bytes: [UInt8] = []
    private var framer = StreamFramer()
    private var done = false
    private let deadline: TimeAmount?
    private let budget: StreamBudget?
    private var timer: Scheduled<Void>?
    /// Bytes taken from `budget`, given back when the stream is over.
    private var held = 0
    private let onMessage: (Result<[UInt8], StreamFailure>, any Channel) -> Void

    /// `deadline`: the whole stream, reply included, must be over by then or it is closed (inbound streams).
    /// `budget`: bytes all inbound streams may hold at once.
    init(
        deadline: TimeAmount? = nil, budget: StreamBudget? = nil,
        onMessage: @escaping (Result<[UInt8], StreamFailure>, any Channel) -> Void
    ) {
        self.deadline = deadline
        self.budget = budget
        self.onMessage = onMessage
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let deadline else { return }
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) { [self] in
            finish(.failure(StreamFailure("i/o timeout: no complete message within \(deadline.nanoseconds / 1_000_000) ms")), channel)
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        release()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let buffer = unwrapInboundIn(data)
        let n = buffer.readableBytes
        if bytes.count + n > Self.limit {
            return finish(.failure(StreamFailure(StreamFramer.tooLarge(bytes.count + n))), context.channel)
        }
        if let budget {
            guard budget.take(n) else {
                let text = "too much stream data in flight (\(budget.limit) bytes): try again later"
                return finish(.failure(StreamFailure(text)), context.channel)
            }
            held += n
        }
        bytes.append(contentsOf: buffer.readableBytesView)
        switch framer.scan(bytes) {
        case .needMore: break
        case .complete: finish(.success(bytes), context.channel)
        case .refused(let text): finish(.failure(StreamFailure(text)), context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(bytes.isEmpty ? .failure(Self.closedEarly) : .success(bytes), context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(StreamFailure("\(error)")), context.channel)
        context.close(promise: nil)
    }

    private func finish(_ result: Result<[UInt8], StreamFailure>, _ channel: any Channel) {
        guard !done else { return }
        done = true
        bytes = []
        release()
        onMessage(result, channel)
    }

    private func release() {
        budget?.give(back: held)
        held = 0
    }
}

/// The bytes all inbound streams may buffer together, so many large streams at once cannot exhaust memory.
final class StreamBudget: @unchecked Sendable {
    // @unchecked: used only on the runtime's event loop.
    let limit: Int
    private(set) var used = 0

    init(limit: Int) { self.limit = limit }

    func take(_ n: Int) -> Bool {
        guard used + n <= limit else { return false }
        used += n
        return true
    }

    func give(back n: Int) { used = max(0, used - n) }
}
