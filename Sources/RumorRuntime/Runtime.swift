import Logging
import NIOCore
import NIOPosix
import RumorCore
import RumorWire

/// The shell around a protocol ``Instance``: real UDP and TCP sockets, real timers, one owner.
///
/// Everything happens on one event loop, which owns the instance: packets, stream reads, timers and commands are
/// all turned into ``Input``s there, and the returned effects are carried out there. One thread, no locks, no
/// reentrancy — the core stays a plain value, and idle cost is a couple of timer wake-ups per second.
public final class Runtime: @unchecked Sendable {
    // @unchecked: every mutable property is touched only on `eventLoop` (checked in debug builds).
    public let eventLoop: any EventLoop
    /// Created once the sockets are bound, because binding port 0 decides the port we advertise.
    public private(set) var instance: Instance!
    let logger: Logger
    let security: (any PacketSecurity)?
    /// Receives every event the instance emits, on the event loop.
    public var onEvent: ((Event) -> Void)?

    let epoch = NIODeadline.now()
    var udp: (any Channel)?
    var tcp: (any Channel)?
    var inbound: [StreamID: any Channel] = [:]
    var nextInbound: UInt64 = 1 << 48
    var stopped = false
    var warnings = WarningLimiter()
    /// Socket traffic and refusals (`/metrics`).
    public internal(set) var counters = RuntimeCounters()
    var loopBusy = LoopBusy()
    /// Limits on inbound gossip streams, and what is open now (by remote IP).
    public var streamLimits = StreamLimits()
    /// Open inbound streams by remote IP, oldest first (the one a newcomer may displace, see `StreamLimits`).
    var openStreams: [[UInt8]: [any Channel]] = [:]
    var openStreamTotal = 0
    lazy var streamBudget = StreamBudget(limit: streamLimits.bufferedBytes)

    public init(eventLoop: any EventLoop, security: (any PacketSecurity)? = nil, logger: Logger) {
        self.eventLoop = eventLoop
        self.security = security
        self.logger = logger
    }

    /// The UDP receive buffer asked for, as memberlist's `udpRecvBufSize`.
    public static let udpReceiveBuffer: SocketOptionValue = 2 * 1024 * 1024

    /// The address the sockets are bound to (useful when binding port 0).
    public private(set) var boundPort: Int = 0

    /// Binds UDP and TCP on `host:port` (one port for both, as memberlist does), then creates the instance for
    /// the port actually bound and starts the protocol. Port 0 picks a free port for both.
    public func start(host: String, port: Int, makeInstance: @escaping @Sendable (_ boundPort: Int) -> Instance) -> EventLoopFuture<Void> {
        return makeUDPBootstrap().bind(host: host, port: port).flatMap { [self] udp in
            self.udp = udp
            let actual = udp.localAddress?.port ?? port
            boundPort = actual
            rebindWhenClosed(udp, host: host, port: actual)
            return ServerBootstrap(group: eventLoop)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                // Room for a burst of connections (a flood, or many joins at once) without dropped SYNs.
                .serverChannelOption(ChannelOptions.backlog, value: 1024)
                .serverChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(acceptBackoff(logger: logger, what: "gossip"))
                    }
                }
                .childChannelInitializer { [self] channel in
                    guard admitStream(channel) else { return channel.close() }
                    let deadline = TimeAmount.nanoseconds((instance?.settings.tcpTimeout ?? .seconds(10)).nanoseconds)
                    return channel.eventLoop.makeCompletedFuture {
                        let collector = StreamCollector(deadline: deadline, budget: streamBudget) { [self] result, channel in
                            receiveStream(result, on: channel)
                        }
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .bind(host: host, port: actual)
                .map { [self] tcp in
                    self.tcp = tcp
                    instance = makeInstance(actual)
                    apply(instance.start(at: now))
                }
                .flatMapErrorThrowing { [self] error in
                    self.udp = nil  // not a socket to bind again
                    udp.close(promise: nil)
                    throw error
                }
        }
    }

    private func makeUDPBootstrap() -> DatagramBootstrap {
        // No SO_REUSEADDR on UDP: on Linux it would let a second agent share the port and steal our packets.
        return DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            // memberlist asks for a 2 MiB receive buffer (the kernel caps it at net.core.rmem_max, then doubles it):
            // packets that arrive while the loop is busy wait there instead of being dropped. Without it an agent
            // had half serf's buffer, and on a loaded machine a dropped event came 36 s late, by push-pull.
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: Self.udpReceiveBuffer)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramHandler(runtime: self)) }
            }
    }

    /// NIO closes a UDP channel on any send error but EMSGSIZE and EHOSTUNREACH, and a link going down fails
    /// sendto with ENETUNREACH: the agent would then never send or receive a packet again (the lab's flapping
    /// link saw it answer TCP pings only, and fail its peers, for good). So a UDP socket that closes while we run
    /// is bound again at once, then every second until that works.
    private func rebindWhenClosed(_ channel: any Channel, host: String, port: Int) {
        channel.closeFuture.whenComplete { [self] _ in
            eventLoop.execute { [self] in
                guard !stopped, udp === channel else { return }
                udp = nil
                rebindUDP(host: host, port: port, attempt: 1)
            }
        }
    }

    private func rebindUDP(host: String, port: Int, attempt: Int) {
        guard !stopped else { return }
        makeUDPBootstrap().bind(host: host, port: port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard !stopped else { return channel.close(promise: nil) }
                udp = channel
                // While a link is down every send fails and closes it again: one line per 5 s at most.
                if let line = warnings.admit("the UDP socket closed after a send error; bound \(host):\(port) again", at: now) {
                    logger.warning("\(line)")
                }
                rebindWhenClosed(channel, host: host, port: port)
            case .failure(let error):
                if attempt == 1 || attempt % 60 == 0 {
                    logger.error("the UDP socket closed and could not be bound again (\(error)); retrying every second")
                }
                eventLoop.scheduleTask(in: .seconds(1)) { [self] in
                    rebindUDP(host: host, port: port, attempt: attempt + 1)
                }
            }
        }
    }

    /// Stops timers and closes sockets without any goodbye (use ``Command/leave`` first for a graceful leave).
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            stopped = true
            for channel in inbound.values { channel.close(promise: nil) }
            inbound.removeAll()
            let closes = [udp, tcp].compactMap { $0 }.map { $0.close() }
            return EventLoopFuture.andAllComplete(closes, on: eventLoop)
        }
    }

    /// Feeds a local command to the instance.
    public func submit(_ command: Command) {
        eventLoop.execute { [self] in handle(.command(command)) }
    }

    /// Reads the instance on the loop (for RPC and stats).
    public func withInstance<T>(_ body: (Instance) -> T) -> T {
        eventLoop.preconditionInEventLoop()
        return body(instance)
    }

    /// The soonest a timer fires: long enough that NIO polls its sockets first.
    static let timerYield = TimeAmount.microseconds(200)

    var now: Instant { Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds - epoch.uptimeNanoseconds)) }

    func handle(_ input: Input) {
        eventLoop.preconditionInEventLoop()
        guard !stopped, instance != nil else { return }
        let (start, wallStart) = (LoopBusy.threadCPUNanoseconds(), NIODeadline.now().uptimeNanoseconds)
        apply(instance.handle(input, at: now))
        loopBusy.record(
            cpu: LoopBusy.threadCPUNanoseconds() - start, wall: NIODeadline.now().uptimeNanoseconds - wallStart, input,
            logger: logger)
    }

    // MARK: - Carrying out effects

    func apply(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .send(let bytes, let to): sendPacket(bytes, to: to)
            case .openStream(let id, let to, let payload, let expectsReply, let timeout):
                openStream(id, to: to, payload: payload, expectsReply: expectsReply, timeout: timeout)
            case .replyStream(let id, let payload): replyStream(id, payload: payload)
            case .openStreamState(let id, let to, let state, let timeout):
                encodeOffLoop(state) { [self] payload in
                    openStream(id, to: to, payload: payload, expectsReply: true, timeout: timeout)
                }
            case .replyStreamState(let id, let state):
                encodeOffLoop(state) { [self] payload in replyStream(id, payload: payload) }
            case .schedule(let timer, let at):
                // Never in the past: NIO runs every due task before it looks at sockets again, so a chain of timers
                // due at once (the slices of a large merge) would keep pings and acks waiting until it ended.
                let deadline = max(epoch + .nanoseconds(at.nanoseconds), NIODeadline.now() + Self.timerYield)
                eventLoop.scheduleTask(deadline: deadline) { [self] in handle(.timer(timer)) }
            case .emit(let event):
                log(event)
                onEvent?(event)
            }
        }
    }

    func log(_ event: Event) {
        switch event {
        case .warning(let message):
            if let line = warnings.admit(message, at: now) { logger.warning("\(line)") }
        case .debug(let message):
            logger.debug("\(message)")
        default:
            break
        }
    }

    func sendPacket(_ bytes: [UInt8], to: Address) {
        guard let udp, let target = to.socketAddress else { return }
        let payload: [UInt8]
        if let security {
            do { payload = try security.sealPacket(bytes) } catch {
                logger.error("failed to encrypt packet", metadata: ["error": "\(error)"])
                return
            }
        } else {
            payload = bytes
        }
        counters.packetsSent += 1
        counters.packetBytesSent += payload.count
        let envelope = AddressedEnvelope(remoteAddress: target, data: udp.allocator.buffer(bytes: payload))
        udp.writeAndFlush(envelope, promise: nil)
    }

    func receivePacket(_ bytes: [UInt8], from: SocketAddress) {
        guard let source = Address(from) else { return }
        counters.packetsReceived += 1
        counters.packetBytesReceived += bytes.count
        var plain = bytes
        if let security {
            do { plain = try security.openPacket(bytes) } catch {
                counters.packetsUndecryptable += 1
                if let line = warnings.admit("dropped packet from \(source): \(error)", at: now) { logger.warning("\(line)") }
                return
            }
        }
        handle(.packet(plain, from: source))
    }
}

/// Encryption seam: seals and opens UDP packets and TCP stream messages (memberlist's layouts).
public protocol PacketSecurity: Sendable {
    func sealPacket(_ plaintext: [UInt8]) throws -> [UInt8]
    func openPacket(_ ciphertext: [UInt8]) throws -> [UInt8]
    func sealStream(_ plaintext: [UInt8]) throws -> [UInt8]
    func openStream(_ ciphertext: [UInt8]) throws -> [UInt8]
}
