import NIOCore
import NIOPosix
import RumorRuntime
import RumorWire

/// Chooses the address to advertise when none is configured: the bind address if it is a concrete one,
/// otherwise the first private IPv4 address of an interface that is up (as Serf/Consul do), or loopback when
/// that is all there is.
enum Advertise {
    static func choose(bindHost: String) throws -> String {
        if let bound = Address(host: bindHost, port: 0), !bound.isUnspecified { return bindHost }
        let devices = (try? System.enumerateDevices()) ?? []
        let v4 = devices.compactMap { d -> Address? in
            guard let a = d.address, let addr = Address(a), addr.isIPv4, addr.ip[0] != 127 else { return nil }
            return addr
        }
        let isPrivate: (Address) -> Bool = { a in
            a.ip[0] == 10 || (a.ip[0] == 172 && (16...31).contains(a.ip[1])) || (a.ip[0] == 192 && a.ip[1] == 168)
        }
        if let pick = v4.first(where: isPrivate) ?? v4.first { return pick.host }
        return "127.0.0.1"
    }
}
