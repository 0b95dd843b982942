import Logging
import NIOCore
import RumorCore
import RumorRuntime
import RumorWire

extension Agent {
    /// Serf's name-conflict resolution: another node claims our name, so ask the cluster (`_serf_conflict`) whose
    /// address it knows under that name. If a majority of the answers is not ours, we are the duplicate: log it
    /// and shut down rather than fight over the name, as serf does.
    func resolveNameConflict(with other: Address) {
        logger.error(
            "serf: node name conflicts with another node at \(other.host):\(other.port). Names must be unique! (Resolution enabled: true)")
        guard !resolvingConflict, !isStopping else { return }
        resolvingConflict = true
        let mine = runtime.instance.address
        let votes = NIOLoopBoundBox((responses: 0, matching: 0), eventLoop: eventLoop)
        let observer = QueryObserver(
            onResponse: { _, bytes in
                // A node that does not know the name answers with no member: a vote, but not for us (as serf).
                let record: SerfMemberRecord?
                do { record = try SerfCodec.decodeConflictResponse(bytes) } catch { return }
                votes.value.responses += 1
                if let record, Address(ip: record.addr, port: record.port) == mine { votes.value.matching += 1 }
            },
            onDone: { [self] in
                resolvingConflict = false
                let (responses, matching) = votes.value
                let majority = responses / 2 + 1
                if matching >= majority {
                    logger.info("serf: majority in name conflict resolution [\(matching) / \(responses)]")
                } else {
                    logger.error("serf: minority in name conflict resolution, quitting [\(matching) / \(responses)]")
                    _ = shutdown()
                }
            })
        query(OutgoingQuery(name: "_serf_conflict", payload: Array(name.utf8)), observer: observer)
    }
}
