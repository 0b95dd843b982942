#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import RumorSupport
import NIOPosix
import RumorWire

/// Turns join targets into addresses: `ip`, `ip:port`, `[v6]:port`, `host`, `host:port`, and memberlist's
/// `name/host:port`. Host names (a compose service such as `ha`) are looked up with the system resolver, off the
/// event loop, and every address they resolve to is tried.
enum Resolver {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func resolve(_ target: String, defaultPort: Int) throws -> [Address] {
        let spec = target.split(separator: "/", maxSplits: 1).last.map(String.init) ?? target
        let hp: HostPort
        do { hp = try HostPort.parse(spec, defaultPort: defaultPort, what: "join address") } catch {
            throw Failure(description: "\(error)")
        }
        if let literal = Address(host: hp.host, port: UInt16(hp.port)) { return [literal] }
        return try lookup(hp.host, port: hp.port)
    }

    private static func lookup(_ host: String, port: Int) throws -> [Address] {
        var out: [Address] = []
        do {
            try NameLookup.forEach(host) { info in
                if let sa = info.ai_addr {
                    // Fixed offsets of sin_addr (4) and sin6_addr (8) in the Linux socket address layouts.
                    let raw = UnsafeRawBufferPointer(start: sa, count: Int(info.ai_addrlen))
                    if info.ai_family == AF_INET, raw.count >= 8 {
                        out.append(Address(ip: Array(raw[4..<8]), port: UInt16(port)))
                    } else if info.ai_family == AF_INET6, raw.count >= 24 {
                        out.append(Address(ip: Array(raw[8..<24]), port: UInt16(port)))
                    }
                }
                return true
            }
        } catch {
            throw Failure(description: "\(error)")
        }
        // IPv4 first (what serf advertises), without duplicates from the several socket types.
        var seen = Set<Address>()
        return out.filter { seen.insert($0).inserted }.sorted { $0.isIPv4 && !$1.isIPv4 }
    }

    /// Resolves all targets on the thread pool; failures are reported per target, not thrown.
    static func resolveAll(_ targets: [String], defaultPort: Int, on loop: any EventLoop)
        -> EventLoopFuture<(addresses: [Address], errors: [String])>
    {
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            var addresses: [Address] = []
            var errors: [String] = []
            for t in targets {
                do { addresses += try resolve(t, defaultPort: defaultPort) } catch { errors.append("\(t): \(error)") }
            }
            return (addresses, errors)
        }
    }
}
