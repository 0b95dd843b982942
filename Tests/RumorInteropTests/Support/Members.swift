import Foundation
import Testing

/// One entry of `serf members -format=json` (docs/agent.md#members-output), the schema `rumor members` prints too.
struct Member: Decodable, Sendable, CustomStringConvertible {
    struct ProtocolRange: Decodable, Sendable, Equatable {
        let max: Int
        let min: Int
        let version: Int
    }

    let name: String
    let addr: String
    let port: Int
    /// Optional so that a `null` (a nil map on the agent side) is reported as a mismatch, not a decoding error.
    let tags: [String: String]?
    let status: String
    let `protocol`: ProtocolRange

    var description: String {
        let tagText = tags.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        return "\(name)=\(status)[\(addr)]{\(tagText ?? "null")}"
    }
}

struct MembersOutput: Decodable, Sendable {
    /// serf's CLI prints `"members": null` when a filter matches nothing (a nil Go slice).
    let members: [Member]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        members = try container.decodeIfPresent([Member].self, forKey: .members) ?? []
    }

    private enum CodingKeys: String, CodingKey { case members }
}

/// A command-line client to read membership with.
enum CLI: String, Sendable, CustomStringConvertible {
    case serf, rumor
    var description: String { rawValue }
}

extension Cluster {
    /// Arguments for `<cli> members -format=json` against `node`'s RPC, in each CLI's own flag spelling.
    func membersCommand(via node: Node, cli: CLI, extra: [String] = [], json: Bool = true) -> (String, [String]) {
        switch cli {
        case .serf:
            let format = json ? ["-format=json"] : []
            return (serfPath, ["members"] + format + ["-rpc-addr=\(node.rpcAddr)"] + extra)
        case .rumor:
            let format = json ? ["--format", "json"] : []
            return (rumorPath, ["members"] + format + ["--rpc-addr=\(node.rpcAddr)"] + extra)
        }
    }

    /// The membership `node` reports, read with `cli`. Throws (quoting the command's output) on any failure.
    func members(via node: Node, cli: CLI = .serf) async throws -> [Member] {
        let (exe, args) = membersCommand(via: node, cli: cli)
        let result = try await runCommand(exe, args, timeout: .seconds(10))
        guard result.succeeded else { throw HarnessError("\(result)") }
        do {
            return try JSONDecoder().decode(MembersOutput.self, from: Data(result.stdout.utf8)).members
        } catch {
            throw HarnessError("undecodable JSON from \(result): \(error)")
        }
    }

    /// How `observer`'s view (read with `cli`) differs from `expected` (name → status); empty when it matches.
    ///
    /// For nodes this cluster started, tags and `addr`/`port` must match too. Members not in `expected` are errors.
    func viewProblems(of observer: Node, cli: CLI, expected: [String: String]) async -> [String] {
        let members: [Member]
        do {
            members = try await self.members(via: observer, cli: cli)
        } catch {
            return ["\(observer.name) via `\(cli) members`: \(error)"]
        }
        var problems: [String] = []
        var seen: [String: Member] = [:]
        for m in members {
            if seen[m.name] != nil { problems.append("\(m.name) listed twice") }
            seen[m.name] = m
        }
        for (name, status) in expected.sorted(by: { $0.key < $1.key }) {
            guard let m = seen[name] else {
                problems.append("\(name) missing (want \(status))")
                continue
            }
            if m.status != status { problems.append("\(name) is \(m.status), want \(status)") }
            guard let node = node(named: name) else { continue }
            if m.tags != node.tags {
                problems.append("\(name) has tags \(m.tags.map { "\($0)" } ?? "null"), want \(node.tags)")
            }
            if m.addr != node.gossipAddr || m.port != Int(Cluster.gossipPort) {
                problems.append("\(name) has addr \(m.addr) port \(m.port), want \(node.gossipAddr)")
            }
        }
        for m in members where expected[m.name] == nil { problems.append("unexpected member \(m)") }
        guard !problems.isEmpty else { return [] }
        let view = members.sorted { $0.name < $1.name }.map(\.description).joined(separator: " ")
        return ["\(observer.name) via `\(cli) members` sees [\(view)]: " + problems.joined(separator: "; ")]
    }

    /// Waits until every observer, read with every CLI in `clis`, reports exactly `expected`.
    ///
    /// 45 s by default, past the 30 s push-pull interval: a node that joined while another's alive broadcast had
    /// already spent its retransmits learns of it only at its next push-pull, in serf as in Rumor (CI saw a serf
    /// node miss a serf node that joined through a Rumor node in the same second, for the full 30 s).
    func expectView(
        _ expected: [String: String], seenBy observers: [Node], clis: [CLI] = [.serf],
        timeout: Duration = .seconds(45), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let want = expected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let who = observers.map(\.name).joined(separator: ",")
        try await eventually(
            "\(who) (via \(clis.map(\.rawValue).joined(separator: "+"))) see \(want)", timeout: timeout,
            sourceLocation: sourceLocation
        ) {
            var problems: [String] = []
            for observer in observers {
                for cli in clis { problems += await viewProblems(of: observer, cli: cli, expected: expected) }
            }
            return problems
        }
    }
}

/// Every node of `nodes` with the same status, keyed by name.
func statuses(_ nodes: [Cluster.Node], _ status: String) -> [String: String] {
    Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, status) })
}
