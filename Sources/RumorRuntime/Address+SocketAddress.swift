import NIOCore
import RumorWire

extension Address {
    /// Converts a NIO socket address (IPv4 or IPv6; IPv4-mapped v6 becomes v4).
    public init?(_ socket: SocketAddress) {
        guard let port = socket.port, let ip = socket.ipAddress, let parsed = Address(host: ip, port: UInt16(port)) else {
            return nil
        }
        self = parsed
    }

    public var socketAddress: SocketAddress? { try? SocketAddress(ipAddress: host, port: Int(port)) }
}
