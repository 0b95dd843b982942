import Logging
import NIOCore

/// Hands every UDP datagram to the runtime. Oversized or empty datagrams are simply bytes the codec will refuse.
final class DatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on the runtime's event loop.
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let runtime: Runtime

    init(runtime: Runtime) { self.runtime = runtime }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        guard let bytes = envelope.data.readBytes(length: envelope.data.readableBytes), !bytes.isEmpty else { return }
        runtime.receivePacket(bytes, from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable and friends surface here on Linux; they are not fatal for a UDP socket.
        runtime.logger.debug("udp socket error", metadata: ["error": "\(error)"])
    }
}
