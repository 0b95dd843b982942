import NIOConcurrencyHelpers

/// Picks one query reply among the handlers that matched it. Serf runs handlers one after another and the first
/// successful one with output wins (later ones fail with "response already sent"). Ours run concurrently, so the
/// gate keeps Serf's answer: the first handler *in configuration order* that produced a reply, sent as soon as every
/// handler before it is known to have none.
final class QueryReplyGate: Sendable {
    private enum Outcome { case pending, none, reply([UInt8]) }
    private let state: NIOLockedValueBox<(outcomes: [Outcome], sent: Bool)>
    private let respond: @Sendable ([UInt8]) -> Void

    init(handlers: Int, respond: @escaping @Sendable ([UInt8]) -> Void) {
        state = NIOLockedValueBox((Array(repeating: .pending, count: handlers), false))
        self.respond = respond
    }

    /// Records handler `slot`'s outcome: its output if it exited 0 and printed something, else nil.
    func complete(slot: Int, reply: [UInt8]?) {
        let send = state.withLockedValue { s -> [UInt8]? in
            guard s.outcomes.indices.contains(slot) else { return nil }
            s.outcomes[slot] = reply.map(Outcome.reply) ?? .none
            guard !s.sent else { return nil }
            for outcome in s.outcomes {
                switch outcome {
                case .pending: return nil
                case .none: continue
                case .reply(let bytes):
                    s.sent = true
                    return bytes
                }
            }
            return nil
        }
        if let send { respond(send) }
    }
}
