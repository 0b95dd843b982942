/// Restoring Serf's clocks from a snapshot after a restart (docs/agent.md#snapshot).
extension Instance {
    /// Call before ``start(at:)``: moves the three Lamport clocks past what the previous run saw, and ignores user
    /// events and queries up to the times it recorded, so a restarted agent does not run handlers again for events
    /// it already handled.
    public mutating func restore(memberClock: UInt64, eventClock: UInt64, queryClock: UInt64) {
        clock.witness(memberClock)
        self.eventClock.witness(eventClock)
        self.queryClock.witness(queryClock)
        // Saturating: the values come from a file, which may hold anything.
        eventMinTime = max(eventMinTime, eventClock == .max ? .max : eventClock + 1)
        queryMinTime = max(queryMinTime, queryClock == .max ? .max : queryClock + 1)
    }
}
