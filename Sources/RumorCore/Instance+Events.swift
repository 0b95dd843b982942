import RumorWire

/// Serf user events: Lamport-ordered, deduplicated through a ring of recent events, re-gossiped once when new
/// (docs/membership.md#user-events).
extension Instance {
    /// Hard ceiling serf enforces whatever the configured limit.
    static let userEventSaneLimit = 9 * 1024

    /// Checks an event against the size limits serf applies, returning the error text serf would give.
    public func userEventError(name: String, payload: [UInt8]) -> String? {
        let limit = serfSettings.userEventSizeLimit
        let size = name.utf8.count + payload.count
        if size > limit { return "user event exceeds configured limit of \(limit) bytes before encoding" }
        if size > Self.userEventSaneLimit {
            return "user event exceeds sane limit of \(Self.userEventSaneLimit) bytes before encoding"
        }
        let raw = SerfCodec.encode(.userEvent(UserEventMessage(ltime: eventClock.time, name: name, payload: payload, cc: true)))
        if raw.count > limit { return "encoded user event exceeds configured limit of \(limit) bytes after encoding" }
        return nil
    }

    mutating func sendUserEvent(name: String, payload: [UInt8], coalesce: Bool) {
        if let error = userEventError(name: name, payload: payload) {
            warn(error)
            return
        }
        let message = UserEventMessage(ltime: eventClock.time, name: name, payload: payload, cc: coalesce)
        eventClock.increment()
        _ = handleUserEvent(message)
        eventQueue.enqueue(SerfCodec.encode(.userEvent(message)))
    }

    /// An event came in past the next Lamport time we expected: one in between never reached us (every copy of it
    /// was lost, about one node in 70 per event at N=50 with memberlist's transmit limit). A push-pull with a random
    /// peer brings its recent events now rather than at the periodic one, 30-60 s away; at most one a second.
    mutating func repairMissedEvents() {
        if let last = lastEventRepair, now - last < .seconds(1) { return }
        lastEventRepair = now
        pushPullWithRandomPeer()
    }

    /// Returns true when the event is new (delivered now, and worth re-gossiping).
    mutating func handleUserEvent(_ e: UserEventMessage) -> Bool {
        eventClock.witness(e.ltime)
        guard let index = recentSlot(e.ltime, clock: eventClock, minTime: eventMinTime, ring: eventBuffer.count,
                                     what: "event '\(e.name)'")
        else { return false }
        let event = UserEventCollection.Event(name: e.name, payload: e.payload)
        var slot = eventBuffer[index].flatMap { $0.ltime == e.ltime ? $0 : nil } ?? UserEventCollection(ltime: e.ltime, events: [])
        if slot.events.contains(where: { $0.name == event.name && ($0.payload ?? []) == (event.payload ?? []) }) {
            return false
        }
        slot.events.append(event)
        eventBuffer[index] = slot
        emit(.userEvent(UserEvent(ltime: e.ltime, name: e.name, payload: e.payload ?? [], coalesce: e.cc)))
        return true
    }
}
