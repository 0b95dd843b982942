/// An IP address and port as carried in memberlist messages.
///
/// Peers send 4-byte IPv4 or 16-byte addresses, including IPv4-mapped IPv6 (`::ffff:a.b.c.d`) from agents bound
/// to 0.0.0.0 (docs/protocol.md#addresses). The initializer folds the mapped form to 4 bytes so both compare equal.
public struct Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var ip: [UInt8]
    public var port: UInt16

    public init(ip: [UInt8], port: UInt16) {
        if ip.count == 16, ip[0..<10].allSatisfy({ $0 == 0 }), ip[10] == 0xff, ip[11] == 0xff {
            self.ip = Array(ip[12..<16])
        } else {
            self.ip = ip
        }
        self.port = port
    }

    /// Parses a dotted IPv4 address (`"127.0.0.1"`) or a bracket-free IPv6 literal.
    public init?(host: String, port: UInt16) {
        guard let ip = Address.parseIP(host) else { return nil }
        self.init(ip: ip, port: port)
    }

    public var isIPv4: Bool { ip.count == 4 }
    public var isUnspecified: Bool { ip.allSatisfy { $0 == 0 } }
    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool { isIPv4 ? ip[0] == 127 : ip == Array(repeating: 0, count: 15) + [1] }

    public var host: String {
        if ip.count == 4 { return ip.map(String.init).joined(separator: ".") }
        if ip.count == 16 {
            var groups: [String] = []
            for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16)) }
            return groups.joined(separator: ":")
        }
        return ip.map { String($0, radix: 16) }.joined(separator: ".")
    }

    public var description: String { ip.count == 16 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (a: Address, b: Address) -> Bool {
        a.ip.lexicographicallyPrecedes(b.ip) || (a.ip == b.ip && a.port < b.port)
    }

    static func parseIP(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            var out: [UInt8] = []
            for p in parts {
                guard !p.isEmpty, p.count <= 3, let v = UInt8(p) else { return nil }
                out.append(v)
            }
            return out
        }
        return parseIPv6(s)
    }

    private static func parseIPv6(_ s: String) -> [UInt8]? {
        guard s.contains(":") else { return nil }
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ t: String) -> [UInt16]? {
            if t.isEmpty { return [] }
            var out: [UInt16] = []
            for g in t.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) : []
        guard let tail else { return nil }
        let missing = 8 - head.count - tail.count
        guard halves.count == 2 ? missing >= 1 : missing == 0 else { return nil }
        let all = head + Array(repeating: 0, count: max(0, missing)) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

extension String {
    fileprivate func components(separatedBy sep: String) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: sep) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}
