#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import RumorAgent
@testable import RumorCLI
import RumorWire
import Synchronization

/// A one-connection loopback server that follows a script on a background thread, for driving the CLI's client
/// through exchanges our server cannot produce yet (streamed records).
final class ScriptedRPCServer: @unchecked Sendable {  // the fd is only touched by the script thread after init
    let port: Int
    private let listenFD: Int32

    init() throws {
        // getaddrinfo rather than sockaddr_in: with MemberImportVisibility the latter's fields may be attributed to
        // CNIOLinux, which this target does not import.
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo("127.0.0.1", "0", &hints, &list) == 0, let ai = list?.pointee, let sa = ai.ai_addr else {
            throw RPCClientError(.io, "scripted server: resolve failed")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(ai.ai_family, ai.ai_socktype, ai.ai_protocol)
        guard fd >= 0, bind(fd, sa, ai.ai_addrlen) == 0, listen(fd, 1) == 0 else {
            throw RPCClientError(.io, "scripted server: bind failed")
        }
        // The port is bytes 2-3 (big-endian) of the bound sockaddr_in.
        var bound = [UInt8](repeating: 0, count: 128)
        var len = socklen_t(bound.count)
        _ = bound.withUnsafeMutableBytes { getsockname(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len) }
        port = Int(bound[2]) << 8 | Int(bound[3])
        listenFD = fd
    }

    deinit { _ = close(listenFD) }

    /// Accepts one client and runs `script` with it on a Dispatch thread, starting now: the test's own thread is
    /// busy in blocking client calls, and the cooperative pool may have no other thread to spare.
    func serve(_ script: @escaping @Sendable (Peer) throws -> Void) -> ScriptRun {
        let run = ScriptRun()
        let fd = listenFD
        DispatchQueue.global().async {
            run.finish(Result {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { throw RPCClientError(.io, "accept failed") }
                defer { _ = close(client) }
                try script(Peer(fd: client))
            })
        }
        return run
    }

    final class ScriptRun: Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let result = Mutex<Result<Void, any Error>?>(nil)

        fileprivate func finish(_ r: Result<Void, any Error>) {
            result.withLock { $0 = r }
            done.signal()
        }

        /// Blocks until the script has finished, and rethrows what it threw.
        func wait() throws {
            done.wait()
            try result.withLock { $0! }.get()
        }
    }

    final class Peer {
        private let fd: Int32
        private var inbox: [UInt8] = []

        init(fd: Int32) { self.fd = fd }

        func read() throws -> MessagePack {
            while true {
                var reader = MessagePackReader(inbox)
                if let value = try reader.readIfComplete() {
                    inbox.removeFirst(reader.offset)
                    return value
                }
                try Socket.readSome(fd, into: &inbox)
            }
        }

        func readHeader() throws -> RPCRequestHeader { try RPCRequestHeader(from: read()) }

        func reply(seq: UInt64, error: String = "", _ body: (any RPCEncodable)? = nil) throws {
            try Socket.writeAll(fd, RPCResponseHeader(error: error, seq: seq).rpcBytes + (body?.rpcBytes ?? []))
        }
    }
}

/// `{Log: text}`, a monitor record.
struct LogRecord: RPCEncodable {
    var log: String
    func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Log"); w.write(log)
    }
}
