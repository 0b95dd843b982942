import RumorSupport

/// The cluster's recent events as this node saw them, newest last, for `/v1/events` and the page: member changes,
/// deploys and rollbacks, refused records, container events. A fixed ring: the page needs the last few minutes,
/// not a history.
struct ClusterEventLog: Sendable {
    struct Entry: Sendable, Equatable {
        /// Unix milliseconds (the wall clock: a person reads these).
        var time: UInt64
        /// `member-join`, `app-deploy`, `container-replaced`, ...
        var kind: String
        var node: String
        var app: String
        var text: String
    }

    static let capacity = 200
    private(set) var entries: [Entry] = []
    /// Entries ever added: a client polling with `since` gets only what is new.
    private(set) var total = 0

    mutating func add(_ entry: Entry) {
        if entries.count == Self.capacity { entries.removeFirst() }
        entries.append(entry)
        total += 1
    }

    /// Entries after the first `since` ever added (all that are left when the ring has moved past it).
    func after(_ since: Int) -> [Entry] {
        let new = max(0, total - max(since, 0))
        return Array(entries.suffix(min(new, entries.count)))
    }

    func json(since: Int) -> JSON {
        .object([
            ("total", .number(Double(total))),
            ("events", .array(after(since).map { e in
                .object([("time", .number(Double(e.time))), ("kind", .string(e.kind)), ("node", .string(e.node)),
                         ("app", .string(e.app)), ("text", .string(e.text))])
            })),
        ])
    }
}
