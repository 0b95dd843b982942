#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The system resolver (getaddrinfo) for stream sockets, IPv4 and IPv6: one place for its hints and its errors.
public enum NameLookup {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var host: String
        public var code: Int32
        /// The resolver's own words ("Name or service not known").
        public var reason: String { String(cString: gai_strerror(code)) }
        public var description: String { "cannot resolve \(JSON.excerpt(host)): \(reason)" }
    }

    /// Calls `body` with each address `host` (and `port`, if given) resolves to, in the resolver's order, until it
    /// returns false. Throws ``Failure`` when the name does not resolve, or what `body` throws.
    public static func forEach(_ host: String, port: Int? = nil, _ body: (addrinfo) throws -> Bool) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc) || canImport(Musl)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, port.map { String($0) }, &hints, &list)
        guard rc == 0, let list else { throw Failure(host: host, code: rc) }
        defer { freeaddrinfo(list) }
        var next: UnsafeMutablePointer<addrinfo>? = list
        while let ai = next {
            next = ai.pointee.ai_next
            guard try body(ai.pointee) else { return }
        }
    }
}
