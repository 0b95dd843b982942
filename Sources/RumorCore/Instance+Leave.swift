import HashTreeCollections
import RumorWire

/// Graceful leave, in Serf's order (docs/membership.md#leave): a leave intent first (so peers record *left*, not
/// *failed*), then memberlist's dead-about-ourselves, then a short stay so probes in flight are still answered.
/// Each wait ends when its broadcast has been sent as often as gossip sends anything, or at `broadcastTimeout`.
extension Instance {
    mutating func leave() {
        guard serfState == .alive else { return }
        serfState = .leaving
        let intent = LeaveIntent(ltime: clock.time, node: name)
        clock.increment()
        _ = handleLeaveIntent(intent)
        if hasAlivePeers {
            let gen = nextGeneration()
            leaveStep = .intent(generation: gen, token: gen)
            intentQueue.enqueue(SerfCodec.encode(.leave(intent)), notify: gen)
            schedule(.leaveStep(generation: gen), after: serfSettings.broadcastTimeout)
        } else {
            leaveMemberlist()
        }
    }

    var hasAlivePeers: Bool { nodes.values.contains { $0.name != name && $0.state == .alive } }

    mutating func leaveMemberlist() {
        leaving = true
        let gen = nextGeneration()
        leaveStep = .dead(generation: gen, token: gen)
        deadNode(Dead(incarnation: incarnation, node: name, from: name))
        if hasAlivePeers {
            schedule(.leaveStep(generation: gen), after: serfSettings.broadcastTimeout)
        } else {
            propagateLeave()
        }
    }

    mutating func propagateLeave() {
        let gen = nextGeneration()
        leaveStep = .propagate(generation: gen)
        schedule(.leaveStep(generation: gen), after: serfSettings.leavePropagateDelay)
    }

    /// A broadcast someone waited for has gone out (or was dropped: waiting longer would not help).
    mutating func broadcastSent(token: UInt64) {
        switch leaveStep {
        case .intent(_, let t) where t == token: leaveMemberlist()
        case .dead(_, let t) where t == token: propagateLeave()
        default: break
        }
    }

    mutating func leaveStepFired(generation: UInt64) {
        switch leaveStep {
        case .intent(let g, _) where g == generation:
            warn("timeout while waiting for the graceful leave intent to go out")
            leaveMemberlist()
        case .dead(let g, _) where g == generation:
            warn("timeout while waiting for the final dead message to go out")
            propagateLeave()
        case .propagate(let g) where g == generation:
            leaveStep = nil
            serfState = .left
            emit(.leaveFinished)
        default: break
        }
    }
}
