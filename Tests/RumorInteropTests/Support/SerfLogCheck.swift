import Testing

extension Cluster {
    /// Lines serf logs when a peer speaks the protocol wrongly (docs/interop.md#serf-log-lines), and Go's crash output.
    static let serfComplaints = [
        "Failed to decode", "invalid checksum", "Decrypt packet failed", "incompatible", "Conflicting address",
        "not supported", "panic:", "goroutine ",
    ]

    /// Records an issue for every serf log line showing that some peer (rumor, in practice) sent it bad bytes.
    func expectCleanSerfLogs(sourceLocation: SourceLocation = #_sourceLocation) {
        for node in allNodes where node.kind == .serf {
            let bad = log(of: node).split(separator: "\n").filter { line in
                Cluster.serfComplaints.contains { line.contains($0) }
            }
            #expect(
                bad.isEmpty, "\(node) logged protocol complaints:\n    \(bad.prefix(20).joined(separator: "\n    "))",
                sourceLocation: sourceLocation)
        }
    }
}
