import HashTreeCollections
import RumorWire

/// A converged start, for simulating large clusters: bringing 10,000 nodes up by joining means every node hears
/// every other's join, hours of simulation before the first measurement. Instead one node's view of the settled
/// cluster is built once, and every node starts from a copy of it; the member tables are persistent, so the copies
/// share all but what each node changes later.
extension Instance {
    /// Makes every one of `peers` an alive member with our tags, as long after they all joined: nothing queued for
    /// gossip and nothing emitted.
    public mutating func assumeConverged(with peers: [(name: String, address: Address)]) {
        for peer in peers where peer.name != name {
            aliveNode(
                Alive(incarnation: 1, node: peer.name, addr: peer.address.ip, port: peer.address.port, meta: meta),
                bootstrap: false)
        }
        effects.removeAll()
        memberlistQueue.removeAll()
        intentQueue.removeAll()
        gossipedUpTo = broadcastsEnqueued
    }

    /// The node `name` at `address`, one of our members, with a copy of our view of the cluster and its own
    /// randomness and probe position. Start it with ``resume(at:)``.
    public func replica(name: String, address: Address, seed: UInt64) -> Instance {
        precondition(nodes[name]?.address == address, "a replica must be one of the members: \(name) at \(address)")
        var copy = Instance(
            name: name, address: address, tags: tags, settings: settings, serfSettings: serfSettings, seed: seed)
        copy.now = now
        copy.incarnation = nodes[name]!.incarnation
        copy.nodes = nodes
        copy.members = members
        // The same shuffled order (shared, not copied), entered at a random place: probes still spread evenly.
        copy.probeOrder = probeOrder
        copy.probeIndex = probeOrder.isEmpty ? 0 : Int.random(in: 0..<probeOrder.count, using: &copy.rng)
        copy.clock = clock
        copy.eventClock = eventClock
        copy.queryClock = queryClock
        copy.eventBuffer = eventBuffer
        copy.queryBuffer = queryBuffer
        copy.gossipedUpTo = copy.broadcastsEnqueued
        return copy
    }
}
