/// `host:port`, `[v6]:port`, a bare host or a bare IPv6 literal, with a default port: the one parser of addresses
/// typed by users (flags, config keys, join targets, the CLI's `--rpc-addr`).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var what: String
        public var text: String
        public var reason: String
        public var description: String { "invalid \(what) \(JSON.excerpt(text)): \(reason)" }
    }

    /// `what` names the setting in errors ("bind address"); `defaultHost` fills in an empty host (`:7373`), which
    /// is otherwise an error.
    public static func parse(
        _ text: String, defaultPort: Int, defaultHost: String? = nil, what: String
    ) throws(ParseError) -> HostPort {
        func fail(_ reason: String) -> ParseError { ParseError(what: what, text: text, reason: reason) }
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw fail("missing ']'") }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw fail("unexpected text after ']'")
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        var port = defaultPort
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let p = Int(portText), p <= 65535
            else { throw fail("the port must be a number from 0 to 65535") }
            port = p
        }
        if host.isEmpty {
            guard let defaultHost else { throw fail("missing host") }
            host = Substring(defaultHost)
        }
        guard !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { throw fail("not a host name or IP") }
        return HostPort(host: String(host), port: port)
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
