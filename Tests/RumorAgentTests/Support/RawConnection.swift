import RumorAgent
@testable import RumorCLI
import RumorWire

struct RawTimeout: Error {}

/// A bare socket to the RPC server, for sending bytes no well-behaved client would.
final class RawConnection {
    private var fd: Int32
    private var inbox: [UInt8] = []

    init(_ address: String) throws {
        fd = try Socket.open(address, timeoutMillis: 5000)
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Socket.closeFD(fd) }
        fd = -1
    }

    func send(_ bytes: [UInt8]) throws { try Socket.writeAll(fd, bytes) }

    func send(_ command: String, seq: UInt64, _ body: (any RPCEncodable)? = nil) throws {
        try send(RPCRequestHeader(command: command, seq: seq).rpcBytes + (body?.rpcBytes ?? []))
    }

    /// The next msgpack object from the server.
    func read(timeoutMillis: Int32 = 5000) throws -> MessagePack {
        while true {
            var reader = MessagePackReader(inbox)
            if let value = try reader.readIfComplete() {
                inbox.removeFirst(reader.offset)
                return value
            }
            guard try Socket.waitFor(fd, events: Int16(POLLIN), millis: timeoutMillis) else { throw RawTimeout() }
            try Socket.readSome(fd, into: &inbox)
        }
    }

    func readHeader() throws -> RPCResponseHeader { try RPCResponseHeader(from: read()) }

    /// True once the server has closed the connection (anything it sent first is discarded).
    func isClosedByServer(timeoutMillis: Int32 = 5000) throws -> Bool {
        while true {
            guard try Socket.waitFor(fd, events: Int16(POLLIN), millis: timeoutMillis) else { return false }
            do { try Socket.readSome(fd, into: &inbox) } catch { return true }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
