#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RumorAgent

/// Where and how to reach the agent's RPC, shared by every command that talks to it (serf's `-rpc-addr` and
/// `-rpc-auth`, with the same environment fallbacks).
public struct RPCOptions: Sendable {
    public static let options: [Option] = [
        .value("rpc-addr", "addr", "RPC address of the agent (default: $SERF_RPC_ADDR, else \(RPCProtocol.defaultAddress))."),
        .value("rpc-auth", "token", "RPC auth token of the agent (default: $SERF_RPC_AUTH)."),
    ]

    public var rpcAddr: String?
    public var rpcAuth: String?

    public init(_ arguments: ParsedArguments) {
        rpcAddr = arguments.value("rpc-addr")
        rpcAuth = arguments.value("rpc-auth")
    }

    /// An explicit flag wins, even an empty one, as with Go's flag defaults.
    public var address: String {
        rpcAddr ?? Environment.get("SERF_RPC_ADDR").flatMap { $0.isEmpty ? nil : $0 } ?? RPCProtocol.defaultAddress
    }

    public var authKey: String? { rpcAuth ?? Environment.get("SERF_RPC_AUTH") }

    /// Connects, handshakes and authenticates, or prints why not and exits 1.
    public func connect() throws -> RPCClient {
        do {
            return try RPCClient(address: address, authKey: authKey)
        } catch {
            Console.error("Error connecting to Rumor agent at \(address): \(error)")
            throw ExitCode.failure
        }
    }
}

/// `--format text|json`, for the commands that print data.
public enum OutputFormat: String, CaseIterable, Sendable {
    case text
    case json
}

public struct FormatOptions: Sendable {
    public static let options: [Option] = [.value("format", "text|json", "Output format: text or json.")]

    public var format: OutputFormat

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        format = try arguments.choice("format", default: .text)
    }
}

enum Environment {
    static func get(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Output helpers: stdout through `print`, errors straight to fd 2 (the C `stderr` global is not concurrency-safe).
enum Console {
    static func error(_ text: String) {
        let line = Array((text + "\n").utf8)
        var off = 0
        while off < line.count {
            let n = line.withUnsafeBytes { write(2, $0.baseAddress! + off, line.count - off) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Fails the command with serf's "<context>: <error>" line.
    static func fail(_ context: String, _ error: any Error) -> ExitCode {
        Console.error("\(context): \(error)")
        return ExitCode.failure
    }
}
