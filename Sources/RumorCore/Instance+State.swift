import HashTreeCollections
import RumorWire

/// memberlist's state transitions: alive, suspect and dead messages, refutation and suspicion timers
/// (docs/membership.md#states). Accepted changes are re-gossiped and reported to the Serf layer.
extension Instance {
    /// Handles an alive message. `bootstrap` is true only for our own initial announcement.
    mutating func aliveNode(_ a: Alive, bootstrap: Bool) {
        let isLocal = a.node == name
        if leaving && isLocal { return }
        guard a.vsn.count >= 6, a.vsn[0] != 0, a.vsn[1] != 0, a.vsn[0] <= a.vsn[1] else {
            warn("ignored alive message for '\(a.node)' with invalid protocol versions \(a.vsn)")
            return
        }
        guard a.addr.count == 4 || a.addr.count == 16 else {
            warn("ignored alive message for '\(a.node)' with a \(a.addr.count)-byte address")
            return
        }
        let addr = Address(ip: a.addr, port: a.port)
        var updatesAddress = false
        if let known = nodes[a.node] {
            if known.address != addr {
                // A different address under a known name: only a node that is gone may be replaced.
                guard known.state == .left || known.state == .dead && !isLocal else {
                    warn("conflicting address for '\(a.node)': known at \(known.address), alive message says \(addr)")
                    if isLocal { emit(.nameConflict(address: addr)) }
                    return
                }
                updatesAddress = true
            }
        } else {
            // Unknown: enter it as dead at incarnation 0, so this alive reads as a join below.
            nodes[a.node] = NodeState(
                name: a.node, address: addr, meta: a.meta, vsn: a.vsn, incarnation: 0, state: .dead, stateChange: now)
            // At a random place, by swapping with the node there (as memberlist does): an insert would shift the
            // rest, quadratic over a 100,000-node push-pull.
            let at = probeOrder.isEmpty ? 0 : Int.random(in: 0...probeOrder.count, using: &rng)
            probeOrder.append(a.node)
            probeOrder.swapAt(at, probeOrder.count - 1)
        }
        guard var state = nodes[a.node] else { return }
        if isLocal {
            if a.incarnation < state.incarnation { return }
        } else if a.incarnation <= state.incarnation && !updatesAddress {
            return
        }
        suspicions[a.node] = nil

        if isLocal && !bootstrap {
            // Someone gossips about us. Identical news is an echo; anything else is stale and must be refuted.
            if a.incarnation == state.incarnation && a.meta == state.meta && a.vsn == state.vsn { return }
            refute(accusedIncarnation: a.incarnation)
            warn("refuting an alive message about ourselves (incarnation \(a.incarnation), meta or versions differ)")
            return
        }
        memberlistQueue.enqueue(MemberlistCodec.encode(.alive(a)), name: a.node)
        let wasGone = state.isDeadOrLeft
        let metaChanged = state.meta != a.meta
        state.incarnation = a.incarnation
        state.meta = a.meta
        state.vsn = a.vsn
        state.address = addr
        if state.state != .alive {
            state.state = .alive
            state.stateChange = now
            ringNodeTurnedAlive(a.node)
        }
        nodes[a.node] = state
        if wasGone {
            serfNodeJoined(state)
        } else if metaChanged || updatesAddress {
            serfNodeUpdated(state)
        }
    }

    mutating func suspectNode(_ s: Suspect) {
        guard var state = nodes[s.node], s.incarnation >= state.incarnation else { return }
        if var suspicion = suspicions[s.node] {
            let gen = nextGeneration()
            if suspicion.confirm(from: s.from, generation: gen) {
                suspicions[s.node] = suspicion
                effects.append(.schedule(.suspicion(node: s.node, generation: gen), at: max(now, suspicion.deadline)))
                memberlistQueue.enqueue(MemberlistCodec.encode(.suspect(s)), name: s.node)
            }
            return
        }
        guard state.state == .alive else { return }
        if s.node == name {
            refute(accusedIncarnation: s.incarnation)
            warn("refuting a suspect message from '\(s.from)'")
            return
        }
        memberlistQueue.enqueue(MemberlistCodec.encode(.suspect(s)), name: s.node)
        state.incarnation = s.incarnation
        state.state = .suspect
        state.stateChange = now
        nodes[s.node] = state

        // Lifeguard: expect k independent confirmations when the cluster is big enough to provide them.
        let n = nodes.count
        var k = settings.suspicionMult - 2
        if n - 2 < k { k = 0 }
        let minTimeout = Suspicion.minTimeout(mult: settings.suspicionMult, nodes: n, interval: settings.probeInterval)
        let maxTimeout = minTimeout * Double(settings.suspicionMaxTimeoutMult)
        let gen = nextGeneration()
        let suspicion = Suspicion(from: s.from, k: k, min: minTimeout, max: maxTimeout, start: now, generation: gen)
        suspicions[s.node] = suspicion
        effects.append(.schedule(.suspicion(node: s.node, generation: gen), at: suspicion.deadline))
    }

    mutating func suspicionExpired(_ node: String, generation: UInt64) {
        guard let suspicion = suspicions[node], suspicion.generation == generation else { return }
        suspicions[node] = nil
        guard let state = nodes[node], state.state == .suspect else { return }
        emit(.debug("marking '\(node)' as failed: suspicion timed out with \(suspicion.confirmations.count) confirmations"))
        deadNode(Dead(incarnation: state.incarnation, node: node, from: name))
    }

    mutating func deadNode(_ d: Dead) {
        guard var state = nodes[d.node], d.incarnation >= state.incarnation else { return }
        suspicions[d.node] = nil
        if state.isDeadOrLeft { return }
        if d.node == name {
            guard leaving else {
                refute(accusedIncarnation: d.incarnation)
                warn("refuting a dead message from '\(d.from)'")
                return
            }
            // Our own graceful leave: whoever waits for it learns when it has finished spreading.
            let token: UInt64? = if case .dead(_, let t)? = leaveStep { t } else { nil }
            memberlistQueue.enqueue(MemberlistCodec.encode(.dead(d)), name: d.node, notify: token)
        } else {
            memberlistQueue.enqueue(MemberlistCodec.encode(.dead(d)), name: d.node)
        }
        state.incarnation = d.incarnation
        // Dead with From == Node is how a node says it left on purpose.
        state.state = d.node == d.from ? .left : .dead
        state.stateChange = now
        nodes[d.node] = state
        serfNodeLeft(state)
    }

    /// Gossips a higher incarnation of ourselves, disproving a suspicion or death. Being accused also suggests we
    /// may be the slow one, so Lifeguard raises our health score.
    mutating func refute(accusedIncarnation: UInt32) {
        // Saturating: an accusation at UInt32.max (anyone can send one) must not wrap us back below it. There we
        // can only tie; memberlist's uint32 wraps instead.
        incarnation = max(incarnation.saturatingAdd(1), accusedIncarnation.saturatingAdd(1))
        adjustAwareness(1)
        announceSelf()
    }

    /// Broadcasts our current alive message (after a refutation or a change of tags).
    mutating func announceSelf() {
        let a = Alive(incarnation: incarnation, node: name, addr: address.ip, port: address.port, meta: meta)
        if var me = nodes[name] {
            me.incarnation = incarnation
            me.meta = meta
            nodes[name] = me
        }
        memberlistQueue.enqueue(MemberlistCodec.encode(.alive(a)), name: name)
    }
}
