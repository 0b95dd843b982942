/// Go's string helpers the serf CLI's output depends on, so our output matches it byte for byte.
enum GoText {
    /// `strings.TrimSpace`: trims Unicode White_Space scalars (what Go's `unicode.IsSpace` tests) from both ends.
    static func trimSpace(_ s: some StringProtocol) -> String {
        let scalars = String(s).unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// `net.TCPAddr{IP, Port}.String()`: `1.2.3.4:80`, `[::1]:80`, IPv4-mapped shown as IPv4, `:80` for no IP.
    static func hostPort(ip: [UInt8], port: UInt16) -> String {
        let host = ipString(ip)
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// `net.IP.String()` (empty for no IP, as `TCPAddr` prints it).
    static func ipString(_ ip: [UInt8]) -> String {
        switch ip.count {
        case 0:
            return ""
        case 4:
            return ip.map(String.init).joined(separator: ".")
        case 16 where ip[0..<10].allSatisfy({ $0 == 0 }) && ip[10] == 0xff && ip[11] == 0xff:
            return ip[12...].map(String.init).joined(separator: ".")
        case 16:
            return ipv6String(ip)
        default:
            return "?" + ip.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }

    /// RFC 5952 as Go writes it: lowercase hex, the longest run (first on ties) of two or more zero groups as `::`.
    private static func ipv6String(_ ip: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]) }
        var best = (start: -1, end: -1)
        var i = 0
        while i < 8 {
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j > i && j - i > best.end - best.start { best = (i, j) }
            i = j > i ? j : i + 1
        }
        if best.end - best.start < 2 { best = (-1, -1) }
        var out = ""
        var k = 0
        while k < 8 {
            if k == best.start {
                out += "::"
                k = best.end
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[k], radix: 16)
            k += 1
        }
        return out
    }
}
