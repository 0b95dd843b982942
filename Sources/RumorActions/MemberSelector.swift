import RumorApps
import RumorCore
import RumorWire

/// A selected member as the HAProxy action sees it: where to send traffic and what it is.
struct BackendMember: Sendable, Hashable {
    var name: String
    var host: String
    var port: Int
    var tags: [String: String]
    var status: MemberStatus
}

/// Picks the members a load balancer should know about: every selector tag's regex must match the whole tag value
/// (Serf's `members -tag` semantics), and the service port comes from a tag.
struct MemberSelector {
    private let rules: [(tag: String, regex: Regex<AnyRegexOutput>)]
    let portTag: String
    let defaultPort: Int
    /// Set: one backend per advertised container of this app, from the `app:<name>` tag.
    let app: String?

    init(configuration: HAProxyActionConfiguration) throws {
        rules = try configuration.selector.sorted { $0.key < $1.key }.map { (tag: $0.key, regex: try Regex($0.value)) }
        portTag = configuration.portTag
        defaultPort = configuration.defaultPort
        app = configuration.app
    }

    func matches(_ member: Member) -> Bool {
        rules.allSatisfy { rule in
            guard let value = member.tags[rule.tag] else { return false }
            return (try? rule.regex.wholeMatch(in: value)) != nil
        }
    }

    /// Selected members in `.alive` or `.leaving` state (the ones that have or may keep a server), sorted by name.
    /// Members whose port tag is not a port are left out and reported, so one bad tag cannot break the config.
    func select(_ members: [Member]) -> (backends: [BackendMember], rejected: [(name: String, reason: String)]) {
        var backends: [BackendMember] = []
        var rejected: [(name: String, reason: String)] = []
        for member in members where member.status == .alive || member.status == .leaving
            || (app != nil && member.status == .failed)
        {
            guard matches(member) else { continue }
            // A failed node's containers keep serving (an agent's crash never stops a workload): in app mode its
            // endpoints stay until it leaves or is reaped, and HAProxy's own checks take any that really died out.
            if let app {
                guard let value = member.tags[AppTag.key(app: app)] else { continue }
                let (endpoints, bad) = AppTag.parse(value)
                for token in bad { rejected.append((member.name, "tag \(AppTag.key(app: app)) has an unreadable endpoint \"\(token)\"")) }
                for e in endpoints {
                    backends.append(BackendMember(
                        name: "\(member.name)-\(e.slot)", host: e.host ?? member.address.host, port: e.port,
                        tags: member.tags, status: member.status))
                }
                continue
            }
            var port = defaultPort
            if let text = member.tags[portTag] {
                guard let p = Int(text), (1...65535).contains(p) else {
                    rejected.append((member.name, "tag \(portTag)=\"\(text)\" is not a port (1-65535)"))
                    continue
                }
                port = p
            }
            guard !member.address.ip.isEmpty else {
                rejected.append((member.name, "no address"))
                continue
            }
            backends.append(
                BackendMember(
                    name: member.name, host: member.address.host, port: port, tags: member.tags, status: member.status))
        }
        backends.sort { $0.name < $1.name }
        return (backends, rejected)
    }
}
