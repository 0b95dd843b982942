import RumorCore
import RumorWire

/// All one handler run gets (Serf's contract: docs/agent.md#handlers): command line, `SERF_*` variables, stdin. Pure,
/// so the contract is testable byte for byte.
public struct ScriptInvocation: Sendable {
    public var script: String
    /// The `SERF_*` variables, in Serf's order; they override same-named variables of the agent's environment.
    public var variables: [(name: String, value: String)]
    public var stdin: [UInt8]

    public init(script: String, event: HandlerEvent, selfMember: Member) {
        self.script = script
        var vars: [(String, String)] = [
            ("SERF_EVENT", event.typeName),
            ("SERF_SELF_NAME", selfMember.name),
            ("SERF_SELF_ROLE", selfMember.tags["role"] ?? ""),
        ]
        // Sorted for reproducible runs; Serf's order is random (keys that sanitize alike: the last one wins).
        for (key, value) in selfMember.tags.sorted(by: { $0.key < $1.key }) {
            vars.append(("SERF_TAG_" + Self.sanitizedTagName(key), value))
        }
        switch event {
        case .member(_, let members):
            stdin = Array(members.map(Self.memberLine).joined().utf8)
        case .user(let e):
            vars.append(("SERF_USER_EVENT", e.name))
            vars.append(("SERF_USER_LTIME", String(e.ltime)))
            stdin = Self.payloadStdin(e.payload)
        case .query(let q):
            vars.append(("SERF_QUERY_NAME", q.name))
            vars.append(("SERF_QUERY_LTIME", String(q.ltime)))
            stdin = Self.payloadStdin(q.payload)
        case .action(_, let environment):
            for (name, value) in environment.sorted(by: { $0.key < $1.key }) { vars.append((name, value)) }
            stdin = []
        }
        variables = vars
    }

    /// The child's full environment: `base` (the agent's, `KEY=value` strings) with our variables replacing
    /// same-named entries, as Go's exec does.
    public func environment(base: [String]) -> [String] {
        let ours = Set(variables.map(\.name))
        let kept = base.filter { entry in
            guard let eq = entry.firstIndex(of: "=") else { return true }
            return !ours.contains(String(entry[..<eq]))
        }
        var seen = Set<String>()
        var vars: [String] = []
        // Later duplicates win: keep the last value of each name, in first-seen order.
        let last = Dictionary(variables.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        for (name, _) in variables where seen.insert(name).inserted { vars.append("\(name)=\(last[name] ?? "")") }
        return kept + vars
    }

    /// `SERF_TAG_` suffix: upper-cased, every character outside `[A-Z0-9_]` replaced by `_` (Go's ToUpper works per
    /// code point, so a character whose upper case is several code points is not expanded).
    static func sanitizedTagName(_ key: String) -> String {
        var out = ""
        for scalar in key.unicodeScalars {
            let mapped = scalar.properties.uppercaseMapping.unicodeScalars
            let upper = mapped.count == 1 ? mapped[mapped.startIndex] : scalar
            let ok = ("A"..."Z").contains(upper) || ("0"..."9").contains(upper) || upper == "_"
            out.unicodeScalars.append(ok ? upper : "_")
        }
        return out
    }

    /// `NAME\tADDR\tROLE\tTAGS\n`, with tabs and newlines in the name, role and tags escaped.
    static func memberLine(_ m: Member) -> String {
        let tags = m.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(clean(m.name))\t\(ipString(m.address))\t\(clean(m.tags["role"] ?? ""))\t\(clean(tags))\n"
    }

    static func clean(_ s: String) -> String {
        guard s.contains(where: { $0 == "\t" || $0 == "\n" }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The payload, plus a newline if it is non-empty and lacks one (most shells' `read` needs it).
    static func payloadStdin(_ payload: [UInt8]) -> [UInt8] {
        guard let last = payload.last, last != UInt8(ascii: "\n") else { return payload }
        return payload + [UInt8(ascii: "\n")]
    }

    /// The IP only, as Go's `net.IP.String` prints it (IPv6 in RFC 5952 short form).
    static func ipString(_ address: Address) -> String {
        guard address.ip.count == 16 else { return address.host }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(address.ip[$0]) << 8 | UInt16(address.ip[$0 + 1]) }
        // The longest run of two or more zero groups (the first on a tie) becomes "::".
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
